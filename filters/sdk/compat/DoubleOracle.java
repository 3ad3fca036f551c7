// Asks Java how `Double.toString` writes doubles, which is how Logstash's
// sprintf (`StringInterpolation`) prints a `%{field}` holding a JSON number
// with a fraction or an exponent: its JSON reader makes a Double of one.
// `src/logstash/java_number/tests.rs` holds `java_number::double_to_string` to the
// answers without a JVM in the test run.
//
// Needs JDK 19 or later, whose Double.toString gives the shortest digits
// that read back (Logstash 8.15 and later bundle JDK 21); JDK 17's differs
// on some values, which `regenerate-doubles` reports.
//
// Output: one tab-separated line per double: its bits in hexadecimal, then
// Double.toString of it.
//
// Run it with `filters/sdk/compat/regenerate-doubles`.
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

public class DoubleOracle {
    public static void main(String[] args) {
        List<Double> values = new ArrayList<>();
        double[] chosen = {
            0.0, -0.0, 1.0, -1.0, 100.0, 1.5, 0.5, 1e7, 12345678.5, 1e-4, 0.001,
            9999999.0, 9999999.999999998, 1e21, 1e22, 1e23, 2e23, 1.7976931348623157e308,
            Double.MIN_VALUE, Double.MIN_NORMAL, 0.1, 0.2, 0.30000000000000004,
            123456789012345678.0, 9007199254740993.0, 4.35, 2.0E-3, 1.0E-5,
            Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN,
        };
        for (double value : chosen) {
            values.add(value);
        }
        // Where the layout changes, and either side of it.
        for (int exponent = -12; exponent <= 12; exponent++) {
            double power = Double.parseDouble("1e" + exponent);
            values.add(power);
            values.add(Math.nextUp(power));
            values.add(Math.nextDown(power));
            values.add(-power);
        }
        // The smallest subnormals, where one digit reads back from afar.
        for (long steps = 1; steps <= 2000; steps++) {
            values.add(Double.longBitsToDouble(steps));
        }
        // Every exponent, and the short decimals logs hold.
        SplittableRandom random = new SplittableRandom(0x5eed_d0b1eL);
        for (int i = 0; i < 3000; i++) {
            values.add(Double.longBitsToDouble(random.nextLong()));
            values.add(Double.parseDouble(random.nextInt(100_000) + "e" + (random.nextInt(44) - 22)));
        }
        StringBuilder out = new StringBuilder();
        for (double value : values) {
            out.append(Long.toHexString(Double.doubleToRawLongBits(value)))
                .append('\t')
                .append(Double.toString(value))
                .append('\n');
        }
        System.out.print(out);
    }
}
