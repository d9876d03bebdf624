//! Which pages may open the WebSocket: the Origin check that stops
//! cross-site WebSocket hijacking (a page elsewhere opening a socket with
//! the visitor's cookies or network position). Browsers always send Origin
//! on a WebSocket handshake; tools that are not browsers send none and are
//! let in, since they carry nothing of a visitor's.

/// Whether a handshake with `origin` (the Origin header) may go on, for a
/// request to `host` (the Host header), given the configured extra
/// origins (`web_origins`, like `https://chat.example.org`).
pub fn allowed(origin: Option<&str>, host: Option<&str>, extra: &[String]) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    let origin = origin.trim().trim_end_matches('/');
    if extra
        .iter()
        .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    // Same host: the origin's authority is the Host the request went to.
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false; // "null" (a sandboxed frame, a file) and the like
    };
    let scheme_ok = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    scheme_ok
        && host.is_some_and(|host| {
            !authority.is_empty() && authority.eq_ignore_ascii_case(host.trim())
        })
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn the_same_host_is_allowed_and_others_are_not() {
        let none: &[String] = &[];
        assert!(allowed(
            Some("http://127.0.0.1:8080"),
            Some("127.0.0.1:8080"),
            none
        ));
        assert!(allowed(
            Some("https://Chat.Example.org"),
            Some("chat.example.org"),
            none
        ));
        assert!(
            !allowed(Some("http://127.0.0.1:8081"), Some("127.0.0.1:8080"), none),
            "another port"
        );
        assert!(!allowed(
            Some("https://evil.example"),
            Some("chat.example.org"),
            none
        ));
        assert!(!allowed(
            Some("https://chat.example.org.evil.example"),
            Some("chat.example.org"),
            none
        ));
        assert!(!allowed(Some("null"), Some("chat.example.org"), none));
        assert!(!allowed(Some("file://"), Some(""), none));
        assert!(!allowed(Some("http://a"), None, none), "no Host, no match");
        assert!(
            allowed(None, Some("chat.example.org"), none),
            "not a browser"
        );
    }

    #[test]
    fn configured_origins_are_allowed_too() {
        let extra = vec!["https://chat.example.org/".to_owned()];
        assert!(allowed(
            Some("https://chat.example.org"),
            Some("10.0.0.5:8080"),
            &extra
        ));
        assert!(
            !allowed(
                Some("http://chat.example.org"),
                Some("10.0.0.5:8080"),
                &extra
            ),
            "scheme"
        );
    }
}
