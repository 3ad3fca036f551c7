// Asks the real Joda-Time and java.time what Logstash's sprintf makes of
// `@timestamp`, so that `tests/sprintf_cases.rs` can hold `Event::sprintf`
// to the answers without a JVM in the test run.
//
// Logstash 8's `org.logstash.StringInterpolation` formats `@timestamp` in
// three ways, all in UTC:
//   %{+FORMAT}   Joda: DateTimeFormat.forPattern(FORMAT).withZone(UTC),
//                printing the timestamp cut to milliseconds;
//   %{{FORMAT}}  java.time: DateTimeFormatter.ofPattern(FORMAT)
//                .withZone(ZoneOffset.UTC), printing the Instant;
//   %{+%s}       Instant.getEpochSecond().
// Neither formatter is given a locale, so both use the JVM's default one;
// run this with an English (US) default, as `regenerate` does.
//
// Output: one tab-separated line per case:
//   kind (joda, java or epoch), pattern, @timestamp as Logstash writes it
//   (Timestamp.toString: ISO 8601 in UTC, at least three fraction digits),
//   then the text, or `!` and the exception's message when the pattern is
//   refused (such lines have `-` for the timestamp).
//
// Run it with `filters/sdk/compat/regenerate`.
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.joda.time.DateTime;
import org.joda.time.DateTimeZone;
import org.joda.time.format.DateTimeFormat;

public class SprintfOracle {
    static final String[] INSTANTS = {
        "2015-10-01T00:00:00Z",          // Logstash's own StringInterpolationTest
        "2015-05-17T10:05:03.123456789Z",
        "2015-05-17T10:05:03.100Z",
        "2021-08-11T13:04:05.007Z",
        "2024-03-10T13:00:00.000001Z",
        "2014-12-29T12:00:00Z",          // Monday: ISO week 1 of 2015
        "2016-01-03T23:59:59.999Z",      // Sunday: ISO week 53 of 2015
        "2016-02-29T12:00:00Z",
        "2019-12-30T18:45:00Z",
        "2020-12-31T00:00:00Z",
        "2022-01-01T06:00:00Z",          // Saturday
        "2023-01-01T00:00:00Z",          // Sunday
        "2000-01-01T00:00:00Z",
        "1999-12-31T23:59:59.999Z",
        "1970-01-01T00:00:00Z",
        "1969-12-31T23:59:59.500Z",
        "1969-12-31T23:59:59.999999999Z",
        "0999-03-04T05:06:07.089Z",
        "0001-01-01T00:00:00Z",
        "0000-06-15T12:00:00Z",
        "-0001-02-03T04:05:06Z",
        "-0123-12-31T23:00:00Z",
        "9999-12-31T23:59:59.999Z",
        "+10000-01-01T00:00:00Z",
        "+12345-06-07T08:09:10.011Z",
    };

    // Times of day, for the patterns that print hours, AM/PM or java.time's
    // day periods (`B`), at the edges of each.
    static final String[] TIMES = {
        "2015-10-01T00:00:30Z", "2015-10-01T00:01:00Z", "2015-10-01T05:59:59.999Z",
        "2015-10-01T06:00:00Z", "2015-10-01T11:59:59Z", "2015-10-01T12:00:45Z",
        "2015-10-01T12:01:00Z", "2015-10-01T17:59:59Z", "2015-10-01T18:00:00Z",
        "2015-10-01T20:59:59Z", "2015-10-01T21:00:00Z", "2015-10-01T23:00:00Z",
    };

    static final String[] JODA = {
        // Index names and messages as people write them.
        "YYYY.MM.dd", "yyyy.MM.dd", "xxxx.ww", "xxxx-'W'ww", "YYYY-MM-dd'T'HH:mm:ss.SSSZ",
        "dd/MMM/yyyy:HH:mm:ss Z", "EEE, dd MMM yyyy HH:mm:ss Z", "h:mm a", "yyyy-DDD",
        "HH:mm:ss,SSS", "%ss", "%s", "yyyyMMddHH",
        // Each letter at several counts.
        "G", "GGGG", "C", "CC", "CCCC",
        "y", "yy", "yyy", "yyyy", "yyyyyy", "Y", "YY", "YYY", "YYYYYY", "x", "xx", "xxx", "xxxxxx",
        "w", "ww", "www", "M", "MM", "MMM", "MMMM", "MMMMM", "d", "dd", "ddd", "D", "DD", "DDD", "DDDD",
        "e", "ee", "E", "EE", "EEE", "EEEE", "EEEEE", "a", "aa",
        "H", "HH", "HHH", "h", "hh", "k", "kk", "K", "KK", "m", "mm", "mmm", "s", "ss",
        "S", "SS", "SSS", "SSSS", "SSSSSS", "SSSSSSSSS", "SSSSSSSSSSSSSSS", "SSSSSSSSSSSSSSSS",
        "SSSSSSSSSSSSSSSSSS", "SSSSSSSSSSSSSSSSSSS",
        "Z", "ZZ", "ZZZ", "ZZZZ", "z", "zz", "zzz", "zzzz",
        // Literals and quotes.
        "'T'", "''", "'o''clock' H", "'it''s' yyyy", "HH 'open", "yyyy'", "é yyyy", "[yyyy]", "{yyyy", "#",
        // A letter Joda does not know, within a pattern (every letter alone
        // is tried too, see withLetters).
        "yyyy-MM-ddTHH:mm",
    };

    static final String[] JAVA = {
        "yyyy-MM-dd", "yyyy.MM.dd", "YYYY-'W'ww", "YYYY-DDD", "uuuu.MM.dd", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
        "dd/MMM/yyyy:HH:mm:ss Z", "EEE, dd MMM yyyy HH:mm:ss Z", "h:mm a", "yyyyMMddHH",
        "G", "GG", "GGG", "GGGG", "GGGGG", "GGGGGG",
        "u", "uu", "uuu", "uuuu", "uuuuu", "uuuuuuuuuuuuuuuuuuu", "uuuuuuuuuuuuuuuuuuuu",
        "y", "yy", "yyy", "yyyy", "yyyyy", "Y", "YY", "YYY", "YYYY", "YYYYY",
        "w", "ww", "www", "W", "WW",
        "e", "ee", "eee", "eeee", "eeeee", "eeeeee", "c", "cc", "ccc", "cccc", "ccccc", "cccccc",
        "E", "EE", "EEE", "EEEE", "EEEEE", "EEEEEE",
        "M", "MM", "MMM", "MMMM", "MMMMM", "MMMMMM", "L", "LL", "LLL", "LLLL", "LLLLL", "LLLLLL",
        "Q", "QQ", "QQQ", "QQQQ", "QQQQQ", "QQQQQQ", "q", "qq", "qqq", "qqqq", "qqqqq",
        "d", "dd", "ddd", "D", "DD", "DDD", "DDDD", "F", "FF", "g", "gg", "ggggggg",
        "a", "aa", "h", "hh", "hhh", "H", "HH", "HHH", "K", "KK", "k", "kk", "m", "mm", "mmm", "s", "ss", "sss",
        "S", "SS", "SSS", "SSSS", "SSSSSS", "SSSSSSSSS", "SSSSSSSSSS",
        "n", "nn", "nnnnnnnnn", "nnnnnnnnnnnnnnnnnnn", "nnnnnnnnnnnnnnnnnnnn",
        "N", "NNNNNNNNNNNNNNNN", "A", "AAAAAAAAA",
        "V", "VV", "VVV", "z", "zz", "zzz", "zzzz", "zzzzz", "O", "OO", "OOOO", "OOOOO",
        "X", "XX", "XXX", "XXXX", "XXXXX", "XXXXXX", "x", "xx", "xxx", "xxxx", "xxxxx", "xxxxxx",
        "Z", "ZZ", "ZZZ", "ZZZZ", "ZZZZZ", "ZZZZZZ",
        "'T'", "''", "'o''clock' H", "'it''s' yyyy", "HH 'open", "yyyy'", "é yyyy",
        "[yyyy]", "yyyy[-MM]", "[yyyy", "yyyy]", "{yyyy", "#", "TIME_NOW_", "BAD_TIME_NOW", "",
        "ppH", "YYYYYYYYYYYYYYYYYYY", "YYYYYYYYYYYYYYYYYYYY", "ggggggggggggggggggg",
        "gggggggggggggggggggg", "AAAAAAAAAAAAAAAAAAAA", "NNNNNNNNNNNNNNNNNNNN", "'''", "'a'''",
        "[[yyyy]]", "[yyyy]]", "e.c.F.W.w.g.Q",
    };

    // As Logstash's Timestamp.toString: ISO_INSTANT, with three fraction
    // digits when there would be none.
    static final DateTimeFormatter WITH_MILLIS = new DateTimeFormatterBuilder().appendInstant(3).toFormatter();

    static String written(Instant instant) {
        return instant.getNano() == 0 ? WITH_MILLIS.format(instant) : DateTimeFormatter.ISO_INSTANT.format(instant);
    }

    static boolean printsTimeOfDay(String kind, String pattern) {
        String letters = kind.equals("java") ? "aBhHkK" : "ahHkK";
        for (char c : letters.toCharArray()) {
            if (pattern.indexOf(c) >= 0) {
                return true;
            }
        }
        return false;
    }

    // The patterns, then every ASCII letter alone, repeated up to maxCount
    // times (java.time limits most letters' counts), so that the letters
    // each library knows, and how many of each, are pinned too.
    static String[] withLetters(String[] patterns, int maxCount) {
        List<String> all = new ArrayList<>(Arrays.asList(patterns));
        for (char c = 'A'; c <= 'z'; c++) {
            if (!Character.isLetter(c)) {
                continue;
            }
            for (int count = 1; count <= maxCount; count++) {
                String pattern = String.valueOf(c).repeat(count);
                if (!all.contains(pattern)) {
                    all.add(pattern);
                }
            }
        }
        return all.toArray(new String[0]);
    }

    static String[] instantsFor(String kind, String pattern) {
        if (!printsTimeOfDay(kind, pattern)) {
            return INSTANTS;
        }
        String[] all = Arrays.copyOf(INSTANTS, INSTANTS.length + TIMES.length);
        System.arraycopy(TIMES, 0, all, INSTANTS.length, TIMES.length);
        return all;
    }

    public static void main(String[] args) {
        for (String text : INSTANTS) {
            Instant instant = Instant.parse(text);
            System.out.println("epoch\t\t" + written(instant) + "\t" + instant.getEpochSecond());
        }
        for (String pattern : withLetters(JODA, 1)) {
            org.joda.time.format.DateTimeFormatter joda;
            try {
                joda = DateTimeFormat.forPattern(pattern).withZone(DateTimeZone.UTC);
            } catch (IllegalArgumentException e) {
                System.out.println("joda\t" + pattern + "\t-\t!" + e.getMessage());
                continue;
            }
            for (String text : instantsFor("joda", pattern)) {
                Instant instant = Instant.parse(text);
                DateTime time = new DateTime(instant.toEpochMilli(), DateTimeZone.UTC);
                System.out.println("joda\t" + pattern + "\t" + written(instant) + "\t" + time.toString(joda));
            }
        }
        for (String pattern : withLetters(JAVA, 6)) {
            DateTimeFormatter java;
            try {
                java = DateTimeFormatter.ofPattern(pattern).withZone(ZoneOffset.UTC);
            } catch (IllegalArgumentException e) {
                System.out.println("java\t" + pattern + "\t-\t!" + e.getMessage());
                continue;
            }
            for (String text : instantsFor("java", pattern)) {
                Instant instant = Instant.parse(text);
                String out;
                try {
                    out = java.format(instant);
                } catch (RuntimeException e) {
                    out = "!" + e.getMessage();
                }
                System.out.println("java\t" + pattern + "\t" + written(instant) + "\t" + out);
            }
        }
    }
}
