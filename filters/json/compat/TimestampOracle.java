// Asks the JDK what Logstash 8 makes of a document's `@timestamp` text, so
// that `tests/timestamp_cases.rs` can hold the json filter to the answers
// without a JVM in the test run.
//
// Logstash 8 turns the text into its `Timestamp` with java.time: a
// case-insensitive ISO local date, then optionally `T` and an ISO local
// time, then optionally a zone id or offset (`Z`, `+01:00`, `UTC+1`,
// `Europe/Paris`), then optionally a compact offset (`+0100`); time fields
// default to zero and a text without a zone is read in the machine's zone.
// This program builds that parser itself (with UTC as the machine's zone,
// the json filter's choice) and writes the instant as Logstash writes it:
// ISO 8601 in UTC with three, six or nine fraction digits.
//
// Inputs are assembled from random dates, times and zones in the shapes
// documents carry, and about a third are then spoiled (a case change, a
// character cut, added or swapped, a digit bumped, a cut end). Output: one
// tab-separated line per case, the input and the result or `-`.
//
// Run it with `filters/json/compat/regenerate` (it needs a JDK, 11 or
// later; Logstash 8 bundles 17).
import java.time.*;
import java.time.format.*;
import java.time.temporal.ChronoField;
import java.time.temporal.TemporalAccessor;
import java.time.temporal.TemporalQueries;
import java.util.*;

public class TimestampOracle {
    static final DateTimeFormatter LOGSTASH = new DateTimeFormatterBuilder()
        .parseCaseInsensitive()
        .append(DateTimeFormatter.ISO_LOCAL_DATE)
        .optionalStart().appendLiteral('T').append(DateTimeFormatter.ISO_LOCAL_TIME).optionalEnd()
        .optionalStart().appendZoneOrOffsetId().optionalEnd()
        .optionalStart().appendOffset("+HHmmss", "Z").optionalEnd()
        .parseDefaulting(ChronoField.HOUR_OF_DAY, 0)
        .parseDefaulting(ChronoField.MINUTE_OF_HOUR, 0)
        .parseDefaulting(ChronoField.SECOND_OF_MINUTE, 0)
        .parseDefaulting(ChronoField.NANO_OF_SECOND, 0)
        .toFormatter(Locale.ROOT)
        .withZone(ZoneOffset.UTC);

    static final DateTimeFormatter MILLIS = new DateTimeFormatterBuilder().appendInstant(3).toFormatter();

    // No region ids (`2020-01-01T00:00Europe/Paris`): java.time reads them,
    // the json filter does not (it carries no zone database; see the README).
    static final String[] ZONES = {
        "", "", "", "Z", "z", "+01:00", "-05:00", "+0530", "+05", "-0800", "+01:00:30", "+013045",
        "UTC", "GMT", "UT", "utc", "UTC+01:00", "GMT-05:00", "UT+0100", "GMT+1", "UTC-5",
        "+18:00", "-18:00", "+19:00", "+1:00", "+01:0",
    };

    // What may follow the zone: java.time reads a compact offset there too,
    // and it wins.
    static final String[] SECOND_ZONES = {"", "", "", "", "", "", "Z", "+0530", "+01", "-0800", "+013045", "+05:30", "z"};

    public static void main(String[] args) {
        Random random = new Random(Long.parseLong(args[0]));
        int count = Integer.parseInt(args[1]);
        for (int i = 0; i < count; i++) {
            String input = assemble(random);
            if (random.nextInt(3) == 0) {
                input = spoil(random, input);
            }
            if (input.contains("\t") || input.contains("\n") || input.contains("\"") || input.contains("\\")) {
                continue;
            }
            String answer = read(input);
            if (answer != null) {
                System.out.println(input + "\t" + answer);
            }
        }
    }

    // The result as Logstash writes it, `-` if it fails, or null for a text
    // read through a region id (`UCT`, a spoiled `UTC`, is one), which the
    // json filter does not read.
    static String read(String input) {
        try {
            TemporalAccessor parsed = LOGSTASH.parse(input);
            ZoneId zone = parsed.query(TemporalQueries.zone());
            boolean region = !(zone instanceof ZoneOffset) && !zone.getId().matches("(?i)(UTC|GMT|UT)([+-].*)?");
            if (region) {
                return null;
            }
            Instant instant = Instant.from(parsed);
            int year = instant.atZone(ZoneOffset.UTC).getYear();
            if (year < 0 || year > 9999) {
                return "-";
            }
            return instant.getNano() == 0 ? MILLIS.format(instant) : DateTimeFormatter.ISO_INSTANT.format(instant);
        } catch (DateTimeException e) {
            return "-";
        }
    }

    static String assemble(Random random) {
        StringBuilder out = new StringBuilder();
        int year = random.nextInt(20) == 0 ? random.nextInt(10000) : 1971 + random.nextInt(66);
        out.append(String.format("%04d", year));
        int month = random.nextInt(25) == 0 ? random.nextInt(14) : 1 + random.nextInt(12);
        int day = random.nextInt(8) == 0 ? 28 + random.nextInt(5) : 1 + random.nextInt(28);
        out.append(String.format("-%02d-%02d", month, day));
        switch (random.nextInt(6)) {
            case 0:
                return out.append(pick(random, ZONES)).append(pick(random, SECOND_ZONES)).toString();
            case 1:
                out.append(random.nextBoolean() ? 'T' : 't');
                out.append(String.format("%02d:%02d", random.nextInt(24), random.nextInt(60)));
                break;
            default:
                int hour = random.nextInt(30) == 0 ? 24 : random.nextInt(24);
                out.append('T').append(String.format("%02d:%02d:%02d", hour, random.nextInt(60), random.nextInt(60)));
                int digits = random.nextInt(11);
                if (digits > 0) {
                    out.append(random.nextInt(10) == 0 ? ',' : '.');
                    for (int d = 0; d < digits; d++) {
                        out.append((char) ('0' + random.nextInt(10)));
                    }
                }
        }
        return out.append(pick(random, ZONES)).append(pick(random, SECOND_ZONES)).toString();
    }

    static String spoil(Random random, String input) {
        int at = random.nextInt(input.length());
        String noise = "0123456789 :-.+TZtz";
        switch (random.nextInt(7)) {
            case 0: return input.toLowerCase(Locale.ROOT);
            case 1: return input.substring(0, at) + input.substring(at + 1);
            case 2: return input.substring(0, at) + noise.charAt(random.nextInt(noise.length())) + input.substring(at);
            case 3:
                if (at + 1 < input.length()) {
                    return input.substring(0, at) + input.charAt(at + 1) + input.charAt(at) + input.substring(at + 2);
                }
                return input + " ";
            case 4: return input.substring(0, at);
            case 5: return " " + input;
            default:
                char c = input.charAt(at);
                if (Character.isDigit(c)) {
                    return input.substring(0, at) + (char) ('0' + (c - '0' + 1 + random.nextInt(8)) % 10) + input.substring(at + 1);
                }
                return input.substring(0, at) + "9" + input.substring(at);
        }
    }

    static String pick(Random random, String[] from) {
        return from[random.nextInt(from.length)];
    }
}
