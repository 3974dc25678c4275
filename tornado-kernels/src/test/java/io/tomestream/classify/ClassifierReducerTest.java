package io.tomestream.classify;

import io.tomestream.backend.select.BackendChoice;
import io.tomestream.merge.Reducer;
import io.tomestream.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The reducer as an option of the public API. */
class ClassifierReducerTest {
    private static final String MODEL = "vit-tiny-rand";

    @Test
    void optionsDefaultToToMeAndCarryTheReducer() {
        assertEquals(Reducer.TOME, Classifier.Options.defaults().reducer());
        assertEquals(Reducer.TOME, new Classifier.Options("8", BackendChoice.CPU, 1, 5, null, false).reducer());
        Classifier.Options o = Classifier.Options.defaults().withReducer(Reducer.POOL).withBudget("8:-1").withThreads(2).withTopK(3);
        assertEquals(Reducer.POOL, o.reducer());
        assertEquals("8:-1", o.budget());
        assertEquals(Reducer.POOL, o.withBudget("4").withBackend(BackendChoice.CPU).reducer());
    }

    @Test
    void eachReducerClassifiesWithTheBudgetsTokenCounts() throws Exception {
        Map<?, ?> expected = Fixtures.expected(MODEL);
        Map<?, ?> c = null;
        for (Object o : (List<?>) expected.get("cases")) if (((Map<?, ?>) o).get("tome").equals("2,6,10,4")) c = (Map<?, ?>) o;
        byte[] image = Fixtures.bytes("images/" + ((List<?>) expected.get("images")).getFirst());
        for (Reducer reducer : Reducer.values()) {
            try (Classifier classifier = Classifier.open(Fixtures.model(MODEL),
                    Classifier.Options.defaults().withReducer(reducer).withBudget("2,6,10,4").withThreads(2))) {
                assertEquals(reducer.label(), classifier.reducer());
                Prediction p = assertInstanceOf(Outcome.Classified.class, classifier.classify(List.of(image)).getFirst()).prediction();
                assertArrayEquals(Fixtures.ints(((List<?>) c.get("tokens")).getFirst()), p.tokens(), reducer.label());
            }
        }
        assertThrows(IllegalArgumentException.class,
                () -> Classifier.open(Fixtures.model("vit-avg-rand"), Classifier.Options.defaults().withReducer(Reducer.PRUNE)).close());
    }
}
