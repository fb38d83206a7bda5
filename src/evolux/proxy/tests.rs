use super::*;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn env(pairs: &[(&str, &str)]) -> ProxyEnv {
    ProxyEnv::from_pairs(pairs.iter().map(|(k, v)| (*k, v.to_string())))
}

fn flag(value: &str) -> Option<Explicit<'_>> {
    Some(Explicit {
        origin: "--evolux.proxy-url",
        value,
        on_command_line: false,
    })
}

const API: &str = "https://acme.evolux.cx/";

#[test]
fn without_a_setting_there_is_no_proxy() {
    assert_eq!(
        resolve(&url(API), None, &ProxyEnv::default()),
        Ok(ProxyChoice::None)
    );
    // Empty values count as unset; other variables are not read.
    let e = env(&[("HTTPS_PROXY", " "), ("ALL_PROXY", "http://p:1")]);
    assert_eq!(resolve(&url(API), None, &e), Ok(ProxyChoice::None));
    assert_eq!(resolve(&url(API), flag(""), &e), Ok(ProxyChoice::None));
}

#[test]
fn the_api_scheme_chooses_the_variable_and_lower_case_wins() {
    let e = env(&[
        ("HTTPS_PROXY", "http://upper:3128"),
        ("https_proxy", "http://lower:3128"),
        ("HTTP_PROXY", "http://plain:3128"),
    ]);
    let choice = resolve(&url(API), None, &e).unwrap();
    assert_eq!(choice.to_string(), "http://lower:3128 (from https_proxy)");
    let upper = env(&[("HTTPS_PROXY", "http://upper:3128"), ("https_proxy", "")]);
    let choice = resolve(&url(API), None, &upper).unwrap();
    assert_eq!(choice.to_string(), "http://upper:3128 (from HTTPS_PROXY)");
    // HTTP_PROXY is for http:// APIs: an https:// API does not use it.
    let http_only = env(&[("HTTP_PROXY", "http://plain:3128")]);
    assert_eq!(resolve(&url(API), None, &http_only), Ok(ProxyChoice::None));
}

#[test]
fn the_explicit_setting_wins_over_the_environment() {
    let e = env(&[("HTTPS_PROXY", "http://env:3128")]);
    let choice = resolve(&url(API), flag("proxy.corp:8080"), &e).unwrap();
    assert_eq!(
        choice.to_string(),
        "http://proxy.corp:8080 (from --evolux.proxy-url)"
    );
    let https = resolve(&url(API), flag("https://proxy.corp"), &e).unwrap();
    assert_eq!(
        https.to_string(),
        "https://proxy.corp:443 (from --evolux.proxy-url)"
    );
}

#[test]
fn credentials_are_used_but_never_shown() {
    let choice = resolve(
        &url(API),
        flag("http://alice:s3cr%40t@proxy.corp:3128"),
        &ProxyEnv::default(),
    )
    .unwrap();
    let shown = format!("{choice} {choice:?}");
    assert!(
        !shown.contains("alice") && !shown.contains("s3cr"),
        "{shown}"
    );
    assert_eq!(
        choice.to_string(),
        "http://proxy.corp:3128 (from --evolux.proxy-url, credentials hidden)"
    );
    let ProxyChoice::Via { url: proxy, .. } = &choice else {
        panic!("{choice:?}")
    };
    assert_eq!(proxy.with_credentials().password(), Some("s3cr%40t"));
    assert!(choice.reqwest_proxy().unwrap().is_some());
    // The same URL in a command-line argument is refused: `ps` shows it.
    let argument = Explicit {
        on_command_line: true,
        ..flag("http://alice:s3cr%40t@proxy.corp:3128").unwrap()
    };
    let err = resolve(&url(API), Some(argument), &ProxyEnv::default()).unwrap_err();
    assert_eq!(err.problem, ProxyProblem::CredentialsOnCommandLine);
    assert!(!err.to_string().contains("s3cr"), "{err}");
    let plain = Explicit {
        on_command_line: true,
        ..flag("http://proxy.corp:3128").unwrap()
    };
    assert!(resolve(&url(API), Some(plain), &ProxyEnv::default()).is_ok());
}

#[test]
fn bad_proxy_urls_name_their_origin() {
    let e = env(&[("HTTPS_PROXY", "socks5://proxy:1080")]);
    let err = resolve(&url(API), None, &e).unwrap_err();
    assert_eq!(err.origin, "HTTPS_PROXY");
    assert_eq!(err.problem, ProxyProblem::Scheme("socks5".into()));
    assert!(
        err.to_string()
            .starts_with("HTTPS_PROXY: proxy scheme socks5://")
    );
    for bad in [
        "http://",
        "http://p:99999",
        "http://p:3128/path",
        "http://[::1",
    ] {
        let err = resolve(&url(API), flag(bad), &ProxyEnv::default()).unwrap_err();
        assert_eq!(err.origin, "--evolux.proxy-url", "{bad}");
        assert!(
            matches!(err.problem, ProxyProblem::BadUrl(_)),
            "{bad}: {err}"
        );
    }
}

#[test]
fn an_http_api_through_a_proxy_is_refused() {
    let api = url("http://acme.evolux.cx/");
    let e = env(&[("http_proxy", "http://proxy:3128")]);
    let err = resolve(&api, None, &e).unwrap_err();
    assert_eq!(err.origin, "http_proxy");
    assert!(matches!(err.problem, ProxyProblem::Cleartext(_)));
    assert!(err.to_string().contains("https://"), "{err}");
    assert!(err.to_string().contains("NO_PROXY"), "{err}");
    let err = resolve(&api, flag("http://proxy:3128"), &ProxyEnv::default()).unwrap_err();
    assert_eq!(err.origin, "--evolux.proxy-url");
    // ... unless NO_PROXY names its host: then no proxy sees it.
    let bypass = env(&[
        ("http_proxy", "http://proxy:3128"),
        ("NO_PROXY", "evolux.cx"),
    ]);
    assert!(matches!(
        resolve(&api, None, &bypass),
        Ok(ProxyChoice::Bypassed { .. })
    ));
}

#[test]
fn no_proxy_applies_to_the_explicit_setting_too() {
    let e = env(&[("no_proxy", "other.org,.evolux.cx"), ("NO_PROXY", "*")]);
    let choice = resolve(&url(API), flag("http://proxy:3128"), &e).unwrap();
    assert_eq!(
        choice.to_string(),
        "none (no_proxy matches acme.evolux.cx; --evolux.proxy-url not used)"
    );
}

#[test]
fn no_proxy_entries_match_as_curl_and_go_read_them() {
    let cases: &[(&str, &str, bool)] = &[
        ("*", API, true),
        ("acme.evolux.cx", API, true),
        ("ACME.Evolux.CX", API, true),
        ("evolux.cx", API, true),
        (".evolux.cx", API, true),
        ("*.evolux.cx", API, true),
        (".evolux.cx", "https://evolux.cx/", true),
        ("lux.cx", API, false),
        ("cme.evolux.cx", API, false),
        ("acme.evolux.cx.", "https://acme.evolux.cx./", true),
        ("other.org, evolux.cx", API, true),
        ("other.org evolux.cx", API, true),
        ("other.org,,", API, false),
        ("*.other.org", API, false),
        ("acme.evolux.cx:443", API, true),
        ("acme.evolux.cx:8443", API, false),
        ("acme.evolux.cx:8443", "https://acme.evolux.cx:8443/", true),
        ("acme.evolux.cx:x", API, false),
        ("127.0.0.1", "https://127.0.0.1:9/", true),
        ("127.0.0.2", "https://127.0.0.1:9/", false),
        ("127.0.0.1:9", "https://127.0.0.1:9/", true),
        ("127.0.0.0/8", "https://127.1.2.3/", true),
        ("10.0.0.0/8", "https://127.1.2.3/", false),
        ("0.0.0.0/0", "https://127.1.2.3/", true),
        ("::1", "https://[::1]:9/", true),
        ("[::1]:9", "https://[::1]:9/", true),
        ("[::1]:10", "https://[::1]:9/", false),
        ("fd00::/8", "https://[fd12::1]/", true),
        ("fd00::/8", "https://[fe80::1]/", false),
        ("127.0.0.1", "https://localhost/", false),
        ("localhost", "https://localhost:1/", true),
    ];
    for (list, api, expected) in cases {
        assert_eq!(
            no_proxy_match(list, &url(api)),
            *expected,
            "NO_PROXY={list:?} for {api}"
        );
    }
}

#[test]
fn only_the_proxy_variables_are_kept() {
    let e = ProxyEnv::from_pairs([
        ("HTTPS_PROXY", "http://u:secret@p:1".to_string()),
        ("EVOLUX_TOKEN", "token".to_string()),
    ]);
    let shown = format!("{e:?}");
    assert!(
        !shown.contains("secret") && !shown.contains("u:"),
        "{shown}"
    );
    assert!(shown.contains("HTTPS_PROXY") && !shown.contains("EVOLUX_TOKEN"));
    assert_eq!(
        e.first(["https_proxy", "HTTPS_PROXY"]).map(|f| f.0),
        Some("HTTPS_PROXY")
    );
}
