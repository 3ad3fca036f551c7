// Writes `src/names/tables.rs`: the month, weekday and AM/PM names that
// Joda-Time reads for each locale, in every spelling it accepts, as the JDK it runs on gives them
// (`DateFormatSymbols`; Logstash 8 bundles JDK 17, whose names come from
// CLDR 39). Each distinct set of names is written once, with every language
// tag that has it, so a region whose names differ from its language's (en-GB
// writes `Sept`, de-AT `Jänner`) gets its own.
//
// Run it with `filters/date/compat/regenerate`; arguments are the languages
// to include.
import java.text.DateFormatSymbols;
import java.util.*;

public class NameTables {
    public static void main(String[] languages) {
        Set<String> wanted = new HashSet<>(Arrays.asList(languages));
        // Names (as Rust source) -> the tags that have them.
        Map<String, List<String>> tags = new TreeMap<>();
        for (Locale locale : DateFormatSymbols.getAvailableLocales()) {
            boolean plain = locale.getScript().isEmpty() && locale.getVariant().isEmpty()
                && locale.getUnicodeLocaleKeys().isEmpty();
            if (!plain || !wanted.contains(locale.getLanguage())) {
                continue;
            }
            tags.computeIfAbsent(names(locale), k -> new ArrayList<>()).add(locale.toLanguageTag());
        }
        StringBuilder out = new StringBuilder();
        out.append("//! Month, weekday and AM/PM names per locale, as JDK ")
            .append(Runtime.version().feature())
            .append("'s `DateFormatSymbols`\n")
            .append("//! give them to Joda-Time. Written by `compat/NameTables.java`\n")
            .append("//! (run `compat/regenerate`); do not edit by hand.\n\n")
            .append("use super::Table;\n\n")
            .append("pub const TABLES: &[Table] = &[\n");
        for (Map.Entry<String, List<String>> entry : tags.entrySet()) {
            List<String> list = entry.getValue();
            Collections.sort(list);
            out.append("    Table {\n        tags: &[");
            for (int i = 0; i < list.size(); i++) {
                out.append(i == 0 ? "" : ", ").append('"').append(list.get(i)).append('"');
            }
            out.append("],\n").append(entry.getKey()).append("    },\n");
        }
        out.append("];\n");
        System.out.print(out);
    }

    // The Rust fields of one `Table`: months January first, weekdays
    // Monday first (Joda's numbering), then AM and PM, each with every
    // spelling Joda's text parser accepts for it: the short and the full
    // name, as written, in lower case and in upper case (Java's case rules
    // for the locale, which Joda uses).
    static String names(Locale locale) {
        DateFormatSymbols symbols = DateFormatSymbols.getInstance(locale);
        StringBuilder out = new StringBuilder("        months: [\n");
        for (int month = 0; month < 12; month++) {
            spellings(out, locale, symbols.getShortMonths()[month], symbols.getMonths()[month]);
        }
        out.append("        ],\n        weekdays: [\n");
        // DateFormatSymbols counts from Sunday = 1.
        for (int day : new int[] {2, 3, 4, 5, 6, 7, 1}) {
            spellings(out, locale, symbols.getShortWeekdays()[day], symbols.getWeekdays()[day]);
        }
        out.append("        ],\n        half_days: [\n");
        for (String half : symbols.getAmPmStrings()) {
            spellings(out, locale, half);
        }
        return out.append("        ],\n").toString();
    }

    static void spellings(StringBuilder out, Locale locale, String... names) {
        Set<String> all = new LinkedHashSet<>();
        for (String name : names) {
            all.add(name);
            all.add(name.toLowerCase(locale));
            all.add(name.toUpperCase(locale));
        }
        all.remove("");
        out.append("            &[");
        String separator = "";
        for (String spelling : all) {
            out.append(separator).append(quote(spelling));
            separator = ", ";
        }
        out.append("],\n");
    }

    static String quote(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20 || c == 0xa0) {
                // Spelled out, so that a no-break space is seen in review.
                out.append(String.format("\\u{%x}", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }
}
