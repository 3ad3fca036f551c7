//! The admin API: the loaded pipelines and a reload on request. Both need
//! the admin token (`admin_token` says where it comes from); without one
//! configured they are off, never open.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::App;
use super::routes::ApiError;

/// Admin endpoints need `Authorization: Bearer <token>`; without a
/// configured token they are off.
fn authorize(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
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
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token",
        ))
    }
}

pub(super) async fn pipelines(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
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

pub(super) async fn reload(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    match app.reload("admin request").await {
        Ok(names) => Ok(Json(json!({ "reloaded": true, "pipelines": names }))),
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("reload rejected, old pipelines kept: {e}"),
        )),
    }
}
