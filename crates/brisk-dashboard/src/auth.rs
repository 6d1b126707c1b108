//! Who may see the dashboard: the cluster's token, given once as `?token=…` (which sets a
//! cookie and redirects to the same page without it, like Jupyter's login link), as a cookie,
//! or as an `Authorization: Bearer …` (or `token …`) header for scripts and Prometheus.
//!
//! Without a token configured the dashboard is open: the scheduler only allows that when it
//! listens on the loopback interface, or when the operator passed `--insecure`. Static assets
//! (the JavaScript and CSS, which hold no cluster data) are always served; every page, the
//! JSON API, the event stream and `/metrics` need the token. The cookie is named after the
//! port, so dashboards of several clusters on one host do not overwrite each other's, and it is
//! `HttpOnly`, `SameSite=Lax`, and `Secure` when served over TLS.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// How the dashboard is protected. `Default`: open, plain HTTP.
#[derive(Clone, Default)]
pub struct Access {
    /// The cluster's token (`None`: no token needed).
    pub token: Option<String>,
    /// Serve HTTPS with this setup (`None`: plain HTTP).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// The token check of one running dashboard.
pub(crate) struct Guard {
    /// The token, hex-encoded (what the cookie holds, so any token is a valid cookie value).
    cookie_value: String,
    token: String,
    cookie_name: String,
    secure: bool,
}

impl Guard {
    pub(crate) fn new(token: &str, port: u16, secure: bool) -> Guard {
        Guard {
            cookie_value: hex(token.as_bytes()),
            token: token.to_string(),
            cookie_name: format!("brisk-token-{port}"),
            secure,
        }
    }

    fn allows(&self, headers: &HeaderMap) -> bool {
        let bearer = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
                    .then(|| rest.trim())
            })
            .any(|t| same(t.as_bytes(), self.token.as_bytes()));
        bearer
            || headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|c| c.trim().split_once('='))
                .any(|(name, value)| {
                    name == self.cookie_name && same(value.as_bytes(), self.cookie_value.as_bytes())
                })
    }

    fn set_cookie(&self) -> String {
        format!(
            "{}={}; Path=/; HttpOnly; SameSite=Lax{}",
            self.cookie_name,
            self.cookie_value,
            if self.secure { "; Secure" } else { "" }
        )
    }
}

/// The middleware: pass, set the cookie and redirect, or refuse.
pub(crate) async fn check(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let uri = req.uri().clone();
    if uri.path().starts_with("/static/") || uri.path() == "/health" {
        return next.run(req).await;
    }
    let (given, rest) = split_token(uri.query().unwrap_or(""));
    if let Some(given) = given {
        if !same(given.as_bytes(), guard.token.as_bytes()) {
            return denied("wrong token");
        }
        let location = if rest.is_empty() {
            uri.path().to_string()
        } else {
            format!("{}?{rest}", uri.path())
        };
        let mut r = StatusCode::SEE_OTHER.into_response();
        if let (Ok(loc), Ok(cookie)) = (
            HeaderValue::from_str(&location),
            HeaderValue::from_str(&guard.set_cookie()),
        ) {
            r.headers_mut().insert(header::LOCATION, loc);
            r.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return r;
    }
    if guard.allows(req.headers()) {
        return next.run(req).await;
    }
    denied("no token")
}

fn denied(why: &str) -> Response {
    let body = format!(
        "401 Unauthorized ({why}): this dashboard needs the cluster's token. Open the link \
         `brisk scheduler` printed (…/status?token=…), or send the header \
         `Authorization: Bearer <token>`.\n"
    );
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::WWW_AUTHENTICATE, "Bearer realm=\"brisk\""),
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        ],
        body,
    )
        .into_response()
}

/// The (percent-decoded) `token` parameter of a query string, and the query without it.
fn split_token(query: &str) -> (Option<String>, String) {
    let mut token = None;
    let mut rest = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        match part.strip_prefix("token=") {
            Some(v) => token = Some(percent_decode(v)),
            None => rest.push(part),
        }
    }
    (token, rest.join("&"))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Constant-time equality (the length is not secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_tokens_are_split_off_and_decoded() {
        assert_eq!(
            split_token("key=a&token=s%3Bx+y&max=3"),
            (Some("s;x y".into()), "key=a&max=3".into())
        );
        assert_eq!(split_token(""), (None, String::new()));
        assert_eq!(
            split_token("token=%zz%4"),
            (Some("%zz%4".into()), String::new())
        );
    }

    #[test]
    fn headers_and_cookies() {
        let g = Guard::new("s3cret", 8787, false);
        let mut h = HeaderMap::new();
        assert!(!g.allows(&h));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert!(g.allows(&h));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cre"),
        );
        assert!(!g.allows(&h));
        let mut h = HeaderMap::new();
        let cookie = g.set_cookie();
        let pair = cookie.split(';').next().unwrap().to_string();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {pair}")).unwrap(),
        );
        assert!(g.allows(&h));
        // The same token under another dashboard's cookie name does not count.
        let other = Guard::new("s3cret", 9999, false);
        assert!(!other.allows(&h));
        assert!(!cookie.contains("Secure"));
        assert!(Guard::new("t", 1, true).set_cookie().ends_with("; Secure"));
    }
}
