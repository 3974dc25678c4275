package io.tomestream.classify;

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
        assertEquals("tome", Classifier.Options.defaults().reducer());
        assertEquals("tome", new Classifier.Options("8", "auto", 1, 5).reducer());
        Classifier.Options o = Classifier.Options.defaults().withReducer("pool").withBudget("8:-1").withThreads(2).withTopK(3);
        assertEquals("pool", o.reducer());
        assertEquals("8:-1", o.budget());
        assertEquals("pool", o.withBudget("4").withBackend("cpu").reducer());
    }

    @Test
    void eachReducerClassifiesWithTheBudgetsTokenCounts() throws Exception {
        Map<?, ?> expected = Fixtures.expected(MODEL);
        Map<?, ?> c = null;
        for (Object o : (List<?>) expected.get("cases")) if (((Map<?, ?>) o).get("tome").equals("2,6,10,4")) c = (Map<?, ?>) o;
        byte[] image = Fixtures.bytes("images/" + ((List<?>) expected.get("images")).getFirst());
        for (String reducer : List.of("tome", "prune", "pool")) {
            try (Classifier classifier = Classifier.open(Fixtures.model(MODEL),
                    Classifier.Options.defaults().withReducer(reducer).withBudget("2,6,10,4").withThreads(2))) {
                assertEquals(reducer, classifier.reducer());
                Prediction p = assertInstanceOf(Outcome.Classified.class, classifier.classify(List.of(image)).getFirst()).prediction();
                assertArrayEquals(Fixtures.ints(((List<?>) c.get("tokens")).getFirst()), p.tokens(), reducer);
            }
        }
        assertThrows(IllegalArgumentException.class,
                () -> Classifier.open(Fixtures.model(MODEL), Classifier.Options.defaults().withReducer("evit")).close());
        assertThrows(IllegalArgumentException.class,
                () -> Classifier.open(Fixtures.model("vit-avg-rand"), Classifier.Options.defaults().withReducer("prune")).close());
    }
}
