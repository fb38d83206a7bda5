//! `--evolux.proxy-url` and the proxy variables, through the whole
//! configuration: precedence, where a proxy came from, the summary, the
//! errors, `--demo`, and reloads.

use super::*;
use crate::evolux::proxy::ProxyEnv;

fn with_env(args: &[&str], yaml: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let file = file::parse(yaml).map_err(|message| ConfigError::ParseFile {
        path: "test.yaml".into(),
        message,
    })?;
    let env = ProxyEnv::from_pairs(vars.iter().map(|(k, v)| (*k, v.to_string())));
    resources::load(validate::validate(
        cli(args),
        file,
        Some("tok".into()),
        &env,
    )?)
}

fn proxy(args: &[&str], yaml: &str, vars: &[(&str, &str)]) -> String {
    with_env(args, yaml, vars)
        .expect("valid")
        .evolux
        .proxy
        .to_string()
}

#[test]
fn flag_then_file_then_environment() {
    let env = [("HTTPS_PROXY", "http://env.corp:3128")];
    let file = "evolux:\n  proxy_url: http://file.corp:3128\n";
    assert_eq!(
        proxy(&[URL, "--evolux.proxy-url=http://flag.corp:1"], file, &env),
        "http://flag.corp:1 (from --evolux.proxy-url)"
    );
    assert_eq!(
        proxy(&[URL], file, &env),
        "http://file.corp:3128 (from evolux.proxy_url (config file))"
    );
    assert_eq!(
        proxy(&[URL], "", &env),
        "http://env.corp:3128 (from HTTPS_PROXY)"
    );
    assert_eq!(proxy(&[URL], "", &[]), "none");
    // An empty flag counts as unset, as an empty HTTPS_PROXY does: the
    // file's proxy stands.
    assert_eq!(
        proxy(&[URL, "--evolux.proxy-url="], file, &env),
        "http://file.corp:3128 (from evolux.proxy_url (config file))"
    );
    assert_eq!(
        proxy(&[URL, "--evolux.proxy-url= "], "", &env),
        "http://env.corp:3128 (from HTTPS_PROXY)"
    );
}

#[test]
fn credentials_are_refused_on_the_command_line_only() {
    let e = with_env(
        &[URL, "--evolux.proxy-url=http://bob:hunter2@p:3128"],
        "",
        &[],
    )
    .expect_err("credentials in an argument");
    let shown = e.to_string();
    assert!(
        shown.starts_with("--evolux.proxy-url: the proxy URL holds a user name or password"),
        "{shown}"
    );
    assert!(
        shown.contains("EVOLUX_PROXY_URL") && !shown.contains("hunter2"),
        "{shown}"
    );
    // The same URL from the file or the environment is used.
    let file = "evolux:\n  proxy_url: http://bob:hunter2@p:3128\n";
    assert_eq!(
        proxy(&[URL], file, &[]),
        "http://p:3128 (from evolux.proxy_url (config file), credentials hidden)"
    );
    assert_eq!(
        proxy(&[URL], "", &[("HTTPS_PROXY", "http://bob:hunter2@p:3128")]),
        "http://p:3128 (from HTTPS_PROXY, credentials hidden)"
    );
}

#[test]
fn the_summary_shows_the_proxy_without_credentials() {
    let c = with_env(
        &[URL],
        "",
        &[("https_proxy", "http://bob:hunter2@proxy.corp:3128")],
    )
    .unwrap();
    let summary = c.summary();
    assert!(
        summary.contains(
            "  proxy:              http://proxy.corp:3128 (from https_proxy, credentials hidden)\n"
        ),
        "{summary}"
    );
    assert!(
        !summary.contains("hunter2") && !summary.contains("bob"),
        "{summary}"
    );
    assert!(!format!("{c:?}").contains("hunter2"), "Debug shows it");
    let bypassed = with_env(
        &[URL],
        "",
        &[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", ".evolux.cx")],
    )
    .unwrap();
    assert!(
        bypassed.summary().contains(
            "proxy:              none (NO_PROXY matches acme.evolux.cx; HTTPS_PROXY not used)"
        ),
        "{}",
        bypassed.summary()
    );
}

#[test]
fn errors_name_where_the_proxy_was_set() {
    let e = |args: &[&str], yaml: &str, vars: &[(&str, &str)]| match with_env(args, yaml, vars) {
        Ok(_) => panic!("accepted {args:?} {yaml:?} {vars:?}"),
        Err(e) => e.to_string(),
    };
    let flag = e(&[URL, "--evolux.proxy-url=socks5://p:1080"], "", &[]);
    assert!(
        flag.starts_with("--evolux.proxy-url: proxy scheme socks5:// is not supported"),
        "{flag}"
    );
    let file = e(&[URL], "evolux:\n  proxy_url: 'http://'\n", &[]);
    assert!(
        file.starts_with("evolux.proxy_url (config file): not a proxy URL"),
        "{file}"
    );
    let http = e(
        &["--evolux.url=http://acme.evolux.cx"],
        "",
        &[("http_proxy", "http://u:pw@p:3128")],
    );
    assert!(
        http.starts_with("http_proxy: the API URL http://acme.evolux.cx/ is http://"),
        "{http}"
    );
    assert!(!http.contains("pw@"), "{http}");
}

#[test]
fn the_demo_ignores_proxies() {
    let c = with_env(
        &["--demo", "--evolux.proxy-url=socks5://x"],
        "",
        &[("HTTP_PROXY", "http://p:1"), ("HTTPS_PROXY", "http://p:1")],
    )
    .unwrap();
    assert_eq!(c.evolux.proxy, crate::evolux::ProxyChoice::Demo);
    assert!(
        c.summary()
            .contains("proxy:              none (--demo ignores proxies)")
    );
}

#[test]
fn a_new_proxy_takes_effect_at_a_restart() {
    let old = with_env(&[URL], "", &[]).unwrap();
    let new = with_env(&[URL, "--evolux.proxy-url=http://p:1"], "", &[]).unwrap();
    assert_eq!(restart::needs_restart(&old, &new), ["evolux.proxy-url"]);
    assert!(restart::needs_restart(&new, &new.clone()).is_empty());
}
