#!/usr/bin/env python3
"""Writes kibana/wasmstash.ndjson: the data view, a saved search and the
dashboards that `wasmstash setup` imports.

Why a generator: Kibana's export format nests JSON inside JSON strings
(panelsJSON, searchSourceJSON) and every Lens panel repeats the same column
shapes, so hand-editing the ndjson invites mistakes. The file is committed;
`scripts/test` runs `generate.py --check` so it never drifts from this script.

Needs Kibana 8.10 or later (the duration format of the latency panels).
Format: Kibana 8.x saved objects (dashboards at typeMigrationVersion 8.9.0
with Lens panels stored by value, references lifted to the dashboard as
`<panelIndex>:indexpattern-datasource-layer-<layer>`). Ids are fixed, so a
re-import with overwrite replaces the objects instead of copying them.

    python3 kibana/generate.py           # rewrite kibana/wasmstash.ndjson
    python3 kibana/generate.py --check   # exit 1 if the file is out of date
"""

import json
import sys
from pathlib import Path

DATA_VIEW = "wasmstash-logs"
OUT = Path(__file__).with_name("wasmstash.ndjson")

# event.duration is in nanoseconds (ECS); Lens shows it as a human duration.
DURATION = {"id": "duration", "params": {"decimals": 0, "fromUnit": "nanoseconds", "toUnit": "humanize"}}
# The same for Discover and the saved search: the data view's field format,
# whose duration parameters have other names than Lens's.
FIELD_DURATION = {"id": "duration",
                  "params": {"inputFormat": "nanoseconds", "outputFormat": "humanizePrecise", "outputPrecision": 1}}

# The levels the anomaly filter's error_ratio detector counts as errors by
# default (filters/anomaly/src/config.rs), so that a panel and a finding
# agree. The index template maps log.level with the lowercase normalizer,
# so "ERROR" from a shipper matches too, as the detector compares without
# case. Syslog lines carry their severity, not log.level: codes 0-3 are
# emergency to error.
ERROR_LEVELS = ["error", "err", "fatal", "critical", "crit", "alert", "emerg", "emergency"]
ERROR_KQL = ('log.level : (' + " or ".join(f'"{level}"' for level in ERROR_LEVELS) + ')'
             ' or http.response.status_code >= 500 or log.syslog.severity.code <= 3')


# --- Lens columns ----------------------------------------------------------

def date_histogram():
    return {
        "label": "@timestamp", "dataType": "date", "operationType": "date_histogram",
        "sourceField": "@timestamp", "isBucketed": True, "scale": "interval",
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def count(label="Events", kql=None):
    column = {
        "label": label, "customLabel": True, "dataType": "number", "operationType": "count",
        "sourceField": "___records___", "isBucketed": False, "scale": "ratio",
        "params": {"emptyAsNull": True},
    }
    if kql:
        column["filter"] = {"query": kql, "language": "kuery"}
    return column


def terms(field, order_by, size=10, label=None, numeric=False, other=True, include_regex=None):
    column = {
        "label": label or f"Top values of {field}", "customLabel": label is not None,
        "dataType": "number" if numeric else "string", "operationType": "terms",
        "sourceField": field, "isBucketed": True, "scale": "ordinal",
        "params": {
            "size": size, "orderBy": {"type": "column", "columnId": order_by},
            "orderDirection": "desc", "otherBucket": other, "missingBucket": False,
            "parentFormat": {"id": "terms"},
        },
    }
    # Only the values matching this: the query picks the events, but a
    # split on an array field shows every value of each event picked.
    if include_regex is not None:
        column["params"].update({"include": [include_regex], "includeIsRegex": True})
    return column


def metric(operation, field, label, data_type="number", **params):
    column = {
        "label": label, "customLabel": True, "dataType": data_type, "operationType": operation,
        "sourceField": field, "isBucketed": False, "scale": "ratio",
    }
    if params:
        column["params"] = params
    return column


def latency_percentile(percentile):
    column = metric("percentile", "event.duration", f"p{percentile}", percentile=percentile)
    column["params"]["format"] = DURATION
    return column


def last_value(field, label):
    return {
        "label": label, "customLabel": True, "dataType": "string", "operationType": "last_value",
        "sourceField": field, "isBucketed": False, "scale": "ordinal",
        "filter": {"query": f"{field}: *", "language": "kuery"},
        "params": {"sortField": "@timestamp", "showArrayValues": True},
    }


def histogram(field, label):
    return {
        "label": label, "customLabel": True, "dataType": "number", "operationType": "range",
        "sourceField": field, "isBucketed": True, "scale": "interval",
        "params": {"type": "histogram", "maxBars": "auto", "format": DURATION,
                   "ranges": [{"from": 0, "to": 1000, "label": ""}]},
    }


def ratio_formula(column_id, label, numerator_kql):
    """A Lens formula `count(kql=...) / count()` with the helper columns Lens
    keeps beside it (two counts and the tinymath division)."""
    formula = f"count(kql='{numerator_kql}') / count()"
    x0, x1, x2 = f"{column_id}X0", f"{column_id}X1", f"{column_id}X2"
    part = f"Part of {label}"
    columns = {
        column_id: {
            "label": label, "customLabel": True, "dataType": "number", "operationType": "formula",
            "isBucketed": False, "scale": "ratio", "references": [x2],
            "params": {"formula": formula, "isFormulaBroken": False,
                       "format": {"id": "percent", "params": {"decimals": 1}}},
        },
        x0: {**count(part, numerator_kql), "params": {"emptyAsNull": False}},
        x1: {**count(part), "params": {"emptyAsNull": False}},
        x2: {
            "label": part, "customLabel": True, "dataType": "number", "operationType": "math",
            "isBucketed": False, "scale": "ratio", "references": [x0, x1],
            "params": {"tinymathAst": {"type": "function", "name": "divide", "args": [x0, x1],
                                       "location": {"min": 0, "max": len(formula)},
                                       "text": formula}},
        },
    }
    return columns, [column_id, x0, x1, x2]


# --- Lens visualizations -----------------------------------------------------

def xy(layer, x, accessors, split=None, series="bar_stacked"):
    layer_config = {"layerId": layer, "layerType": "data", "seriesType": series,
                    "xAccessor": x, "accessors": accessors}
    if split:
        layer_config["splitAccessor"] = split
    return "lnsXY", {
        "legend": {"isVisible": True, "position": "right"},
        "valueLabels": "hide", "fittingFunction": "None",
        "preferredSeriesType": series, "layers": [layer_config],
    }


def table(layer, column_ids):
    return "lnsDatatable", {"layerId": layer, "layerType": "data",
                            "columns": [{"columnId": c} for c in column_ids]}


def metric_vis(layer, accessor):
    return "lnsMetric", {"layerId": layer, "layerType": "data", "metricAccessor": accessor}


class Dashboard:
    """Collects panels on Kibana's 48-column grid, left to right, top to bottom."""

    def __init__(self, dashboard_id, title, description):
        self.id, self.title, self.description = dashboard_id, title, description
        self.panels, self.references = [], []
        self.x = self.y = self.row_height = 0

    def _place(self, w, h):
        if self.x + w > 48:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        grid = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_height = max(self.row_height, h)
        return grid

    def lens(self, panel, title, columns, order, vis, w=24, h=12, kql=""):
        layer = f"{panel}-layer"
        vis_type, visualization = vis(layer)
        reference = {"type": "index-pattern", "id": DATA_VIEW,
                     "name": f"indexpattern-datasource-layer-{layer}"}
        attributes = {
            "title": title, "description": "", "visualizationType": vis_type, "type": "lens",
            "references": [reference],
            "state": {
                "visualization": visualization,
                "query": {"query": kql, "language": "kuery"}, "filters": [],
                "datasourceStates": {"formBased": {"layers": {layer: {
                    "columnOrder": order, "columns": columns, "incompleteColumns": {}}}}},
                "internalReferences": [], "adHocDataViews": {},
            },
        }
        self.panels.append({
            "type": "lens", "panelIndex": panel, "gridData": {**self._place(w, h), "i": panel},
            "title": title, "embeddableConfig": {"attributes": attributes, "enhancements": {}},
        })
        self.references.append({**reference, "name": f"{panel}:{reference['name']}"})

    def saved_search(self, panel, title, search_id, w=48, h=15):
        self.panels.append({
            "type": "search", "panelIndex": panel, "gridData": {**self._place(w, h), "i": panel},
            "title": title, "panelRefName": f"panel_{panel}", "embeddableConfig": {"enhancements": {}},
        })
        self.references.append({"type": "search", "id": search_id, "name": f"{panel}:panel_{panel}"})

    def saved_object(self):
        return {
            "type": "dashboard", "id": self.id, "managed": False,
            "coreMigrationVersion": "8.8.0", "typeMigrationVersion": "8.9.0",
            "attributes": {
                "title": self.title, "description": self.description, "version": 1,
                "timeRestore": True, "timeFrom": "now-30m", "timeTo": "now",
                "refreshInterval": {"pause": False, "value": 10000},
                "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "syncCursor": True,
                                           "syncTooltips": False, "hidePanelTitles": False}),
                "panelsJSON": json.dumps(self.panels),
                "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(
                    {"query": {"query": "", "language": "kuery"}, "filter": []})},
            },
            "references": self.references,
        }


# --- The objects ---------------------------------------------------------------

def data_view():
    return {
        "type": "index-pattern", "id": DATA_VIEW, "managed": False,
        "coreMigrationVersion": "8.8.0", "typeMigrationVersion": "8.0.0",
        "attributes": {"title": "logs-*", "name": "Logs (wasmstash)", "timeFieldName": "@timestamp",
                       "allowNoIndex": True, "fieldFormatMap": json.dumps({"event.duration": FIELD_DURATION}), "runtimeFieldMap": "{}",
                       "sourceFilters": "[]", "fields": "[]"},
        "references": [],
    }


def anomaly_search():
    return {
        "type": "search", "id": "wasmstash-anomaly-events", "managed": False,
        "coreMigrationVersion": "8.8.0", "typeMigrationVersion": "8.0.0",
        "attributes": {
            "title": "[wasmstash] Anomalous events",
            "description": "Every event the anomaly filter flagged, newest first.",
            "columns": ["wasmstash.anomaly.score", "wasmstash.anomaly.detectors",
                        "wasmstash.anomaly.key_field", "wasmstash.anomaly.key",
                        "wasmstash.anomaly.reason", "service.name"],
            "sort": [["@timestamp", "desc"]],
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({
                "query": {"query": 'tags : "anomaly"', "language": "kuery"}, "filter": [],
                "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"})},
        },
        "references": [{"type": "index-pattern", "id": DATA_VIEW,
                        "name": "kibanaSavedObjectMeta.searchSourceJSON.index"}],
    }


def overview():
    d = Dashboard("wasmstash-overview", "[wasmstash] Overview",
                  "Volume, errors, latency and HTTP traffic of everything wasmstash parsed.")
    d.lens("volume-service", "Events over time by service",
           {"t": date_histogram(), "s": terms("service.name", "n"), "n": count()},
           ["t", "s", "n"], lambda l: xy(l, "t", ["n"], "s"))
    d.lens("volume-level", "Events over time by log level",
           {"t": date_histogram(), "s": terms("log.level", "n", size=8), "n": count()},
           ["t", "s", "n"], lambda l: xy(l, "t", ["n"], "s"))
    rate_columns, rate_order = ratio_formula("r", "Error rate", ERROR_KQL)
    d.lens("error-rate", "Error rate (error levels, HTTP 5xx, syslog error or worse)",
           {"t": date_histogram(), **rate_columns}, ["t", *rate_order],
           lambda l: xy(l, "t", ["r"], series="line"))
    d.lens("error-rate-by-service", "Error rate by service",
           {"s": terms("service.name", "n", size=15, other=False),
            **rate_columns, "n": count()},
           ["s", *rate_order, "n"], lambda l: table(l, ["s", "r", "n"]))
    d.lens("latency-histogram", "Latency distribution (event.duration)",
           {"b": histogram("event.duration", "Latency"), "n": count()},
           ["b", "n"], lambda l: xy(l, "b", ["n"], series="bar"), w=24)
    d.lens("latency-percentiles", "Latency p50 / p95 / p99 over time",
           {"t": date_histogram(),
            "p50": latency_percentile(50),
            "p95": latency_percentile(95),
            "p99": latency_percentile(99)},
           ["t", "p50", "p95", "p99"], lambda l: xy(l, "t", ["p50", "p95", "p99"], series="line"))
    d.lens("status-codes", "HTTP status codes over time",
           {"t": date_histogram(), "s": terms("http.response.status_code", "n", numeric=True),
            "n": count()},
           ["t", "s", "n"], lambda l: xy(l, "t", ["n"], "s"), w=24)
    d.lens("client-ips", "Top client IPs",
           {"ip": terms("source.address", "n", size=15, label="Client", other=False),
            "n": count("Requests"),
            "e": count("5xx", "http.response.status_code >= 500"),
            "b": metric("sum", "http.response.body.bytes", "Bytes sent")},
           ["ip", "n", "e", "b"], lambda l: table(l, ["ip", "n", "e", "b"]), w=24)
    d.lens("failures", "Events tagged with a failure (tags starting with _)",
           {"t": date_histogram(), "s": terms("tags", "n", size=10, include_regex="_.*"),
            "n": count()},
           ["t", "s", "n"], lambda l: xy(l, "t", ["n"], "s"), w=48, h=10,
           kql="tags : _*")
    return d.saved_object()


def templates():
    d = Dashboard("wasmstash-templates", "[wasmstash] Log templates",
                  "What the templates filter mined: the commonest templates and the new ones.")
    d.lens("template-count", "Distinct templates seen",
           {"u": metric("unique_count", "wasmstash.template.id", "Templates")},
           ["u"], lambda l: metric_vis(l, "u"), w=12, h=8)
    d.lens("new-template-count", "New templates",
           {"n": count("New templates", "wasmstash.template.new : true")},
           ["n"], lambda l: metric_vis(l, "n"), w=12, h=8)
    d.lens("new-templates-over-time", "New templates over time by service",
           {"t": date_histogram(), "s": terms("service.name", "n"), "n": count("New templates")},
           ["t", "s", "n"], lambda l: xy(l, "t", ["n"], "s"), w=24, h=8,
           kql="wasmstash.template.new : true")
    d.lens("top-templates", "Top log templates",
           {"tpl": terms("wasmstash.template.text", "n", size=25, label="Template", other=False),
            "n": count(), "svc": last_value("service.name", "Service (latest)"),
            "id": last_value("wasmstash.template.id", "Template id")},
           ["tpl", "n", "svc", "id"], lambda l: table(l, ["tpl", "n", "svc", "id"]), w=48, h=16)
    d.lens("new-templates", "New templates (first seen)",
           {"tpl": terms("wasmstash.template.text", "first", size=25, label="Template", other=False),
            "first": metric("min", "@timestamp", "First seen", data_type="date"),
            "svc": last_value("service.name", "Service"),
            "n": count()},
           ["tpl", "first", "svc", "n"], lambda l: table(l, ["tpl", "first", "svc", "n"]),
           w=48, h=16, kql="wasmstash.template.new : true")
    return d.saved_object()


def anomalies():
    d = Dashboard("wasmstash-anomalies", "[wasmstash] Anomalies",
                  "Events the anomaly filter flagged: when, which detector, why, for which key.")
    d.lens("anomaly-timeline", "Anomalies over time by detector",
           {"t": date_histogram(), "s": terms("wasmstash.anomaly.detectors", "n", size=5),
            "n": count("Flagged events")},
           ["t", "s", "n"], lambda l: xy(l, "t", ["n"], "s"), w=32, h=12, kql='tags : "anomaly"')
    d.lens("anomaly-max-score", "Highest score over time",
           {"t": date_histogram(), "m": metric("max", "wasmstash.anomaly.score", "Max score")},
           ["t", "m"], lambda l: xy(l, "t", ["m"], series="line"), w=16, h=12,
           kql='tags : "anomaly"')
    d.lens("anomaly-by-key", "Anomalies by key and detector",
           {"k": terms("wasmstash.anomaly.key", "m", size=20, label="Key", other=False),
            "d": terms("wasmstash.anomaly.detectors", "m", size=5, label="Detector", other=False),
            "m": metric("max", "wasmstash.anomaly.score", "Max score"),
            "n": count("Flags"),
            "f": last_value("wasmstash.anomaly.key_field", "Key field"),
            "r": last_value("wasmstash.anomaly.reason.keyword", "Latest reason")},
           ["k", "d", "m", "n", "f", "r"], lambda l: table(l, ["k", "d", "m", "n", "f", "r"]),
           w=48, h=14, kql='tags : "anomaly"')
    d.saved_search("anomaly-events", "Anomalous events", "wasmstash-anomaly-events")
    return d.saved_object()


def objects():
    return [data_view(), anomaly_search(), overview(), templates(), anomalies()]


def render():
    return "".join(json.dumps(o, sort_keys=True, separators=(",", ":")) + "\n" for o in objects())


if __name__ == "__main__":
    text = render()
    if sys.argv[1:] == ["--check"]:
        if OUT.read_text() != text:
            sys.exit(f"{OUT} is out of date: run python3 {__file__}")
        print(f"{OUT.name}: up to date")
    elif sys.argv[1:]:
        sys.exit(f"usage: {sys.argv[0]} [--check]")
    else:
        OUT.write_text(text)
        print(f"wrote {OUT} ({len(objects())} objects)")
