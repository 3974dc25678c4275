package io.tomestream.merge;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ScheduleTest {

    @Test
    void constant() {
        assertArrayEquals(new int[] {13, 13, 13}, Schedule.parse("13").perLayer(3));
        assertTrue(Schedule.parse("0").isNone());
    }

    @Test
    void decreasingScheduleIsToMesParseR() {
        // parse_r(12, (16, -1.0)) in ToMe: min 32, max 0, step -32/11, int() truncation
        assertArrayEquals(new int[] {32, 29, 26, 23, 20, 17, 14, 11, 8, 5, 2, 0}, Schedule.parse("16:-1").perLayer(12));
        // inflect 0.5: min int(8 * 0.5) = 4, max 12
        assertArrayEquals(new int[] {4, 8, 12}, Schedule.parse("8:0.5").perLayer(3));
    }

    @Test
    void explicitListIsPaddedWithZeros() {
        assertArrayEquals(new int[] {2, 6, 0, 0}, Schedule.parse("2, 6").perLayer(4));
        assertThrows(IllegalArgumentException.class, () -> Schedule.parse("1,2,3").perLayer(2));
    }

    @Test
    void badSpecsNameTheSpec() {
        for (String bad : new String[] {"", "x", "16:", "16:-1:2", "-3", "1,,2", "1.5", "16:nan"}) {
            var e = assertThrows(IllegalArgumentException.class, () -> Schedule.parse(bad), bad);
            assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
            assertTrue(e.getMessage().contains("doesn't parse"), e.getMessage());
        }
    }
}
