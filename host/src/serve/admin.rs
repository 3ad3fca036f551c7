//! The admin API: the loaded pipelines and a reload on request. Both need
//! the admin token (`admin_token` says where it comes from); without one
//! configured they are off, never open.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::App;
use super::api_error::ApiError;
use super::token_refusals::Endpoint;

/// Proof that a request carried the admin token. Each admin handler takes
/// one, so it cannot run without the check; a new admin handler must take
/// one too.
pub(super) struct Admin;

impl FromRequestParts<Arc<App>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Admin, ApiError> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        let peer = peer.map(|ConnectInfo(peer)| *peer);
        authorize(app, &parts.headers, peer).map(|()| Admin)
    }
}

/// Admin endpoints need `Authorization: Bearer <token>`; without a
/// configured token they are off. A token missing or wrong is counted
/// and said (`token_refusals`), as from `peer`.
fn authorize(app: &App, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<(), ApiError> {
    let Some(expected) = &app.admin_token else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin endpoints are disabled: set WASMSTASH_ADMIN_TOKEN or server.admin_token_file",
        ));
    };
    let given = super::ui::bearer(headers).unwrap_or("");
    if super::ui::same_secret(given, expected) {
        Ok(())
    } else {
        (app.token_refusals).refused(&app.metrics, Endpoint::Admin, peer);
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token",
        ))
    }
}

pub(super) async fn pipelines(
    _: Admin,
    State(app): State<Arc<App>>,
) -> Result<Json<Value>, ApiError> {
    let set = app
        .current()
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "loading").retry_after(1))?;
    let pipelines: Vec<Value> = set
        .pipelines
        .values()
        .map(|workers| {
            let filters: Vec<Value> = workers
                .modules()
                .iter()
                .map(|m| json!({ "name": m.name(), "sha256": m.sha256() }))
                .collect();
            json!({ "name": workers.name(), "workers": workers.size(), "filters": filters })
        })
        .collect();
    let loaded_at = set
        .loaded_at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(Json(json!({
        "config": app.config_path.display().to_string(),
        "loaded_at_unix": loaded_at,
        "pipelines": pipelines,
    })))
}

pub(super) async fn reload(_: Admin, State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    match app.reload("admin request").await {
        Ok(reloaded) if reloaded.state_refused.is_empty() => Ok(Json(
            json!({ "reloaded": true, "pipelines": reloaded.pipelines }),
        )),
        // Said in the answer too: whoever asked for the reload may not
        // read the log, and learning lost is worth a look.
        Ok(reloaded) => Ok(Json(json!({
            "reloaded": true,
            "pipelines": reloaded.pipelines,
            "state_refused": reloaded.state_refused,
            "warning": "these stateful filters refused the state the running ones handed them and start afresh; with state_dir set, that state was kept aside (see the log)",
        }))),
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("reload rejected, old pipelines kept: {e}"),
        )),
    }
}
