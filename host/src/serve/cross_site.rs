//! Refuses requests a web page made. The pipeline endpoints, `/metrics` and
//! the health checks take no token, as Logstash, Prometheus and
//! orchestrators call them; a page open in the
//! operator's browser could otherwise send events with a request that needs
//! no preflight (`text/plain`, a form, `mode: "no-cors"`) and fill filter
//! state (templates, anomaly baselines) with what it likes, or read
//! `/metrics` or `/readyz`'s pipeline names once its own name resolves to
//! this host (DNS rebinding).
//!
//! No client of these endpoints is a browser: the gem, Logstash's `http`
//! filter, Prometheus and curl send neither `Origin` nor `Sec-Fetch-Site`.
//! Browsers send `Origin` on every cross-site request and on same-origin
//! ones other than GET and HEAD, and `Sec-Fetch-Site` on all, `none` only
//! when the operator typed the address, which is let through so that
//! `/metrics` can still be read in a tab. The live view's own page talks
//! only to `/ui/...`, which this does not guard.

use std::sync::Arc;

use axum::RequestPartsExt;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;
use super::api_error::ApiError;
use super::routes::workers_for;
use super::workers::PipelineWorkers;

/// The browser header that marks `headers` as a web page's request, with
/// its value, if one does.
fn browser_header(headers: &HeaderMap) -> Option<(&'static str, String)> {
    let shown = |value: &axum::http::HeaderValue| {
        String::from_utf8_lossy(value.as_bytes())
            .chars()
            .take(100)
            .map(|c| if c.is_control() { '?' } else { c })
            .collect::<String>()
    };
    if let Some(origin) = headers.get("origin") {
        return Some(("Origin", shown(origin)));
    }
    (headers.get_all("sec-fetch-site").iter())
        .find(|site| !site.as_bytes().trim_ascii().eq_ignore_ascii_case(b"none"))
        .map(|site| ("Sec-Fetch-Site", shown(site)))
}

/// The middleware for the routes no page may reach. A refusal is counted
/// in `wasmstash_rejected_total` (`reason="web_page"`), under the pipeline
/// the URL names if it is loaded, else `_unknown` (as for `/metrics`): the
/// handler, which counts requests, never sees it, and an operator should
/// see that a page tried.
pub(crate) async fn refuse_browsers(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    let Some((name, value)) = browser_header(request.headers()) else {
        return next.run(request).await;
    };
    // Looked up only here, off the path of the requests let through.
    let (mut parts, _body) = request.into_parts();
    let named = parts.extract::<Path<String>>().await.ok();
    let workers = named.and_then(|Path(pipeline)| workers_for(&app, &pipeline).ok());
    let pipeline = workers.as_deref().map_or("_unknown", PipelineWorkers::name);
    let labels = [("pipeline", pipeline), ("reason", "web_page")];
    app.metrics.add("wasmstash_rejected_total", &labels, 1);
    ApiError::new(
        StatusCode::FORBIDDEN,
        format!(
            "refused: the request carries `{name}: {value}`, which only a web browser sends; \
             the pipeline endpoints, /metrics and the health checks take no token, so a web page \
             must not reach them (Logstash, Prometheus and curl send no such header)"
        ),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn origin_or_a_fetch_from_a_page_is_a_browser_a_typed_address_is_not() {
        assert_eq!(browser_header(&headers(&[])), None);
        assert_eq!(
            browser_header(&headers(&[("content-type", "application/x-ndjson")])),
            None
        );
        assert_eq!(
            browser_header(&headers(&[("sec-fetch-site", "none")])),
            None
        );
        assert_eq!(
            browser_header(&headers(&[("origin", "null")])),
            Some(("Origin", "null".to_owned()))
        );
        assert_eq!(
            browser_header(&headers(&[("sec-fetch-site", "same-origin")])),
            Some(("Sec-Fetch-Site", "same-origin".to_owned()))
        );
        // Two values, one of them `none`: the other still marks a page.
        assert_eq!(
            browser_header(&headers(&[
                ("sec-fetch-site", "none"),
                ("sec-fetch-site", "cross-site")
            ])),
            Some(("Sec-Fetch-Site", "cross-site".to_owned()))
        );
    }
}
