// Asks the real Joda-Time what Logstash's date filter would make of a
// few thousand timestamps, so that `tests/joda_cases.rs` can hold our
// filter to the answers without a JVM in the test run.
//
// Logstash 8's date filter (3.1.x) builds one Joda formatter per format:
// `DateTimeFormat.forPattern(p).withLocale(l).withZone(z)`, with the
// clock's year at init as the default year; `ISO8601` is a fixed list of
// five formatters tried in turn; a pattern without a year is read in that
// default year, then given this year (or the next or the last, around New
// Year). This program does the same, with "now" (and the start) fixed, so
// the answers do not change with the day they were made on.
//
// Inputs are made by printing random instants with the same formatter, then
// spoiling about half of them (a case change, a character cut, added or
// swapped, a doubled space, a cut end), so the cases cover refusals as well
// as readings. Output: one tab-separated line per case:
//   format, locale, zone, input, then the result as Logstash writes
//   `@timestamp` (UTC, milliseconds, a sign on years outside 0000-9999) or `-`.
//
// Run it with `filters/date/compat/regenerate` (it needs a JDK and the
// Joda-Time jar; see "COMPAT: the real Joda-Time" in ../README.md).
import java.util.*;
import org.joda.time.*;
import org.joda.time.format.*;

public class JodaOracle {
    // 2026-06-10T12:00:00Z, the "now" of the filter's year-less tests.
    static final DateTime NOW = new DateTime(1781092800000L, DateTimeZone.UTC);

    static final java.time.format.DateTimeFormatter LOGSTASH_TIMESTAMP =
        new java.time.format.DateTimeFormatterBuilder().appendInstant(3).toFormatter();

    static final String[] PATTERNS = {
        "dd/MMM/yyyy:HH:mm:ss Z",
        "MMM dd HH:mm:ss",
        "MMM  d HH:mm:ss",
        "MMM d HH:mm:ss.SSS",
        "yyyy-MM-dd HH:mm:ss",
        "yyyy-MM-dd HH:mm:ss,SSS",
        "yyyy-MM-dd'T'HH:mm:ss.SSSZZ",
        "yyyy-MM-dd HH:mm:ss.SSS Z",
        "EEE MMM dd HH:mm:ss yyyy",
        "EEE, dd MMM yyyy HH:mm:ss Z",
        "EEEE, MMMM d, yyyy h:mm:ss a",
        "EEE MMM d HH:mm:ss",
        "yyMMdd HH:mm:ss",
        "yyMMdd H:mm:ss",
        "dd.MM.yyyy HH:mm:ss",
        "MM/dd/yyyy hh:mm:ss a",
        "yyyyMMddHHmmss",
        "yyyy-DDD HH:mm",
        "dd MMMM yyyy",
        "d MMM yyyy HH:mm",
        "yyyy MMM dd HH:mm:ss",
        "yyyy-MM-dd'T'HH:mm:ss.SSSSSSZ",
        "yyyy-MM-dd HH:mm:ss ZZZ",
        "dd-MMM-yyyy HH:mm:ss.SSS",
        "yyyy/MM/dd kk:mm:ss",
        "MMMM dd yyyy K:mm a",
        "YYYY-MM-dd HH:mm:ss.SSSSSSSSS",
        "dd/MM/yy HH:mm",
        "e yyyy-D HH:mm:ss",
        "EEEE dd MMMM yyyy HH'h'mm",
        "yyyy-MM-dd'T'HH:mm:ssZZ",
        // A day name without a day of the month: Joda's second pass of
        // field settings moves such dates, see format.rs.
        "EEE HH:mm:ss",
        "EEE MMM yyyy HH:mm",
        "e MMMM",
        // No year, but an offset or zone of the text's own: the year is
        // guessed, and the date moved, on the parsing zone's wall clock.
        "MMM dd HH:mm:ss Z",
        "MMM d HH:mm:ss.SSS ZZZ",
        // A `y` in quoted text: the date filter's text check takes it for
        // a year, so there is no guess, and Joda's default year applies to
        // a date (not to a time alone, read on 1970-01-01).
        "MMM d HH:mm:ss 'Day'",
        "HH:mm:ss 'y'",
        // A time alone without a year: read on 1970-01-01, then moved.
        "h:mm:ss a",
        // More fraction letters than nine: Joda reads up to 18 digits.
        "yyyy-MM-dd HH:mm:ss.SSSSSSSSSSSS",
        // Fields that overlap, set in Joda's order, twice (see bucket.rs):
        // a day of the year beside the month and day (a spoiled digit makes
        // them disagree), a day name and day without a month, two hours.
        "yyyy-MM-dd DDD HH:mm",
        "EEE dd HH:mm:ss",
        "yyyy-MM-dd hh:mm a HH",
        // More letters than a number's usual width: as many digits.
        "ddd/MMM/yyyy HHH:mm:sss",
        // A zone name followed by a `/`, which Joda's zone reader takes for
        // the end of an area when it comes within 11 characters.
        "HH:mm:ss ZZZ dd/MM/yyyy",
        // Short zone names: Joda reads only those of its own table (PST,
        // EST, UTC...), each as a region; the ones it prints for other
        // zones (CET, IST) fail.
        "EEE MMM dd HH:mm:ss z yyyy",
        "yyyy-MM-dd HH:mm:ss.SSS zzz",
        "ISO8601",
    };

    // Printers for ISO8601's inputs: the shapes logs use, with and without
    // an offset, a fraction or seconds.
    static final String[] ISO_SHAPES = {
        "yyyy-MM-dd'T'HH:mm:ss.SSSZZ",
        "yyyy-MM-dd'T'HH:mm:ssZ",
        "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
        "yyyy-MM-dd'T'HH:mm:ss.SSSSSS",
        "yyyy-MM-dd HH:mm:ss,SSS",
        "yyyy-MM-dd HH:mm:ss.SSSZ",
        "yyyy-MM-dd'T'HH:mm",
        "yyyy-MM-dd",
        "yyyy-MM-dd'T'HH",
        "yyyyMMdd'T'HHmmss",
    };

    static final String[] LOCALES = {"en", "en-US", "fr", "fr_FR", "de", "es", "it", "pt-BR", "nl"};
    static final String[] ZONES = {"UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "+05:30", "-08:00"};

    static final DateTimeFormatter[] ISO_PARSERS = {
        ISODateTimeFormat.dateTimeParser(),
        DateTimeFormat.forPattern("yyyy-MM-dd HH:mm:ss.SSSZ"),
        DateTimeFormat.forPattern("yyyy-MM-dd HH:mm:ss.SSS"),
        DateTimeFormat.forPattern("yyyy-MM-dd HH:mm:ss,SSSZ"),
        DateTimeFormat.forPattern("yyyy-MM-dd HH:mm:ss,SSS"),
    };

    public static void main(String[] args) {
        long seed = Long.parseLong(args[0]);
        int count = Integer.parseInt(args[1]);
        Random random = new Random(seed);
        // 1971 to 2036: inside every zone's rules and far from `yy`'s pivot.
        long from = 31536000000L, to = 2082758400000L;
        for (int i = 0; i < count; i++) {
            String pattern = PATTERNS[i % PATTERNS.length];
            String locale = pattern.matches(".*(MMM|E|a).*") ? pick(random, LOCALES) : "en";
            String zone = pick(random, ZONES);
            DateTimeZone tz = DateTimeZone.forID(zone);
            // Text that carries its own offset or zone is written in any
            // zone, not only the one it is read in.
            DateTimeZone printZone = pattern.contains("Z") ? DateTimeZone.forID(pick(random, ZONES)) : tz;
            long instant = from + (long) (random.nextDouble() * (to - from));
            boolean hasYear = pattern.contains("y") || pattern.contains("Y") || pattern.equals("ISO8601");
            if (!hasYear && random.nextInt(3) == 0) {
                // Where a year-less date's year matters: hours from a New Year.
                int year = new DateTime(instant, DateTimeZone.UTC).getYear();
                long newYear = new DateTime(year, 1, 1, 0, 0, DateTimeZone.UTC).getMillis();
                instant = newYear + (long) ((random.nextDouble() * 2 - 1) * 36 * 3600_000L);
            }
            String printer = pattern.equals("ISO8601") ? pick(random, ISO_SHAPES) : pattern;
            String input = DateTimeFormat.forPattern(printer)
                .withLocale(localeOf(locale)).withZone(printZone).print(instant);
            if (random.nextBoolean()) {
                input = spoil(random, input);
            }
            if (input.contains("\t") || input.contains("\n")) {
                continue;
            }
            System.out.println(pattern + "\t" + locale + "\t" + zone + "\t" + input + "\t" + read(pattern, locale, zone, input));
        }
    }

    // As the date filter: `_` becomes `-`, then a BCP 47 tag.
    static Locale localeOf(String tag) {
        return Locale.forLanguageTag(tag.replace('_', '-'));
    }

    static String read(String pattern, String locale, String zone, String input) {
        DateTimeZone tz = DateTimeZone.forID(zone);
        try {
            long millis;
            if (pattern.equals("ISO8601")) {
                millis = readIso(tz, input);
            } else {
                // The date filter reads a date without a year in the year
                // the pipeline started in (the clock's year at init).
                DateTimeFormatter parser = DateTimeFormat.forPattern(pattern)
                    .withLocale(localeOf(locale)).withZone(tz).withDefaultYear(NOW.getYear());
                boolean hasYear = pattern.contains("y") || pattern.contains("Y");
                millis = hasYear ? parser.parseMillis(input) : withGuessedYear(parser, pattern, input);
            }
            // As Logstash 8's Timestamp writes it: java.time's ISO_INSTANT
            // with milliseconds, which gives a year past 9999 a `+` and one
            // before 0 a `-` (Logstash sets such years, as we do).
            return LOGSTASH_TIMESTAMP.format(java.time.Instant.ofEpochMilli(millis));
        } catch (IllegalArgumentException | ArithmeticException e) {
            return "-";
        } catch (RuntimeException e) {
            // Joda's own bug (its zone-id reader can index past the end).
            // The date filter catches only IllegalArgumentException, so
            // Logstash would not tag such an event: it would stop the
            // worker. We count it as a value that does not parse.
            return "!" + e.getClass().getSimpleName();
        }
    }

    static long readIso(DateTimeZone tz, String input) {
        IllegalArgumentException last = null;
        for (DateTimeFormatter parser : ISO_PARSERS) {
            try {
                return parser.withZone(tz).parseMillis(input);
            } catch (IllegalArgumentException e) {
                last = e;
            }
        }
        throw last;
    }

    // JodaParser.parseAndGuessYear, with the clock fixed at NOW.
    static long withGuessedYear(DateTimeFormatter parser, String pattern, String input) {
        DateTime read = pattern.contains("Z")
            ? parser.parseDateTime(input)
            : parser.withZoneUTC().parseLocalDateTime(input).toDateTime(parser.getZone());
        int month = read.getMonthOfYear();
        int year = NOW.getYear();
        if (month == 12 && NOW.getMonthOfYear() == 1) {
            year -= 1;
        } else if (month == 1 && NOW.getMonthOfYear() == 12) {
            year += 1;
        }
        return read.withYear(year).getMillis();
    }

    static String spoil(Random random, String input) {
        if (input.isEmpty()) {
            return "x";
        }
        int at = random.nextInt(input.length());
        String noise = "0123456789 :-./,TZ+aAeEmMrRé";
        switch (random.nextInt(8)) {
            case 0: return input.toUpperCase(Locale.ROOT);
            case 1: return input.toLowerCase(Locale.ROOT);
            case 2: return input.substring(0, at) + input.substring(at + 1);
            case 3: return input.substring(0, at) + noise.charAt(random.nextInt(noise.length())) + input.substring(at);
            case 4:
                if (at + 1 < input.length()) {
                    return input.substring(0, at) + input.charAt(at + 1) + input.charAt(at) + input.substring(at + 2);
                }
                return input + " ";
            case 5: return input.replaceFirst(" ", "  ");
            case 6: return input.substring(0, at);
            default:
                // A digit bumped: out-of-range months, days and hours.
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
