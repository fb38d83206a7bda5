//! docs/configuration.md's configuration table and example file, kept true.

use super::*;

/// docs/configuration.md's configuration table rows: (flag cell, env cell, file key
/// cell, default cell).
fn doc_rows() -> Vec<[String; 4]> {
    let doc = include_str!("../../../docs/configuration.md");
    let section = doc
        .split("\n## Configuration\n")
        .nth(1)
        .expect("a Configuration section");
    section
        .lines()
        .skip_while(|l| !l.starts_with("| flag |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<String> = l.split('|').map(|c| c.trim().to_string()).collect();
            [
                cells[1].clone(),
                cells[2].clone(),
                cells[3].clone(),
                cells[4].clone(),
            ]
        })
        .collect()
}

#[test]
fn the_configuration_doc_table_equals_the_settings() {
    use super::settings::{Preset, SETTINGS};
    let rows = doc_rows();
    for s in SETTINGS {
        let flag = format!("`--{}`", s.flag);
        let row = rows
            .iter()
            .find(|r| r[0].split_whitespace().next() == Some(flag.as_str()))
            .unwrap_or_else(|| panic!("docs/configuration.md has no row for {flag}"));
        assert!(
            row[1].split_whitespace().next() == Some(format!("`{}`", s.env).as_str()),
            "{flag}: docs/configuration.md env {:?}, the setting's {}",
            row[1],
            s.env
        );
        let key = if s.key.is_empty() {
            String::new()
        } else {
            format!("`{}`", s.key)
        };
        assert_eq!(row[2], key, "{flag}: file key");
        match s.default {
            Preset::Value(v) => assert_eq!(row[3], format!("`{v}`"), "{flag}: default"),
            Preset::Described(text) => assert_eq!(row[3], text, "{flag}: default"),
            Preset::Absent => assert_eq!(row[3], "", "{flag}: default"),
        }
    }
    let actions = [
        "`--config.check`",
        "`--evolux.diagnose`",
        "`--demo`",
        "`--web.enable-lifecycle`",
        "`--version`",
    ];
    for row in rows.iter().filter(|r| r[0].starts_with("`--")) {
        let flag = row[0].split_whitespace().next().unwrap_or_default();
        assert!(
            actions.contains(&flag) || SETTINGS.iter().any(|s| format!("`--{}`", s.flag) == flag),
            "docs/configuration.md row {:?} is no setting",
            row[0]
        );
    }
}

#[test]
fn every_default_value_parses_as_its_setting() {
    use super::settings::{Preset, SETTINGS};
    // What validation gets from each default: the same types as the flags.
    for s in SETTINGS {
        let Preset::Value(v) = s.default else {
            continue;
        };
        let parsed = match s.value_name {
            "DURATION" => v.parse::<HumanDuration>().is_ok(),
            "SIZE" => v.parse::<ByteSize>().is_ok(),
            "N" => v.parse::<u32>().is_ok() && v.parse::<usize>().is_ok(),
            "RATE" => v.parse::<f64>().is_ok(),
            "LEVEL" => v.parse::<LogLevel>().is_ok(),
            "FORMAT" => v.parse::<LogFormat>().is_ok(),
            "ADDR" | "PATH" => !v.is_empty(),
            other => panic!("{}: no check for value {other}", s.flag),
        };
        assert!(parsed, "{}: default {v:?} does not parse", s.flag);
    }
    // And the defaults are the ones validation uses.
    let c = merge(&[URL], "").unwrap();
    assert_eq!(c.evolux.timeout, Duration::from_secs(30));
    assert_eq!(c.poll.max_series, 10_000);
    assert_eq!(c.web.telemetry_path, "/metrics");
    assert_eq!(
        c.web.listen_addresses,
        [ListenAddress::AllInterfaces(10071)]
    );
}

#[test]
fn every_file_key_of_the_settings_is_a_key_of_the_file() {
    use super::settings::{Preset, SETTINGS};
    for s in SETTINGS.iter().filter(|s| !s.key.is_empty()) {
        let value = match (s.default, s.value_name) {
            (Preset::Value(v), "N" | "RATE") => v.to_string(),
            (Preset::Value(v), _) => format!("{v:?}"),
            (_, "URL") => "https://x.example".into(),
            (_, "PATH") => "/nonexistent".into(),
            (_, "DURATION") => "1m".into(),
            (_, "UUID") => "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b".into(),
            (_, other) => panic!("{}: no sample for {other}", s.flag),
        };
        let yaml = match s.key.split_once('.') {
            Some(("campaigns[]", field)) => format!("campaigns:\n  - {field}: {value}\n"),
            Some((section, field)) => format!("{section}:\n  {field}: {value}\n"),
            None => panic!("{}: key {} has no section", s.flag, s.key),
        };
        file::parse(&yaml).unwrap_or_else(|e| panic!("{}: {yaml:?} refused: {e}", s.key));
    }
    assert!(file::parse("poll:\n  intervall: 1m\n").is_err());
}

#[test]
fn the_configuration_doc_config_file_example_loads_as_it_stands() {
    let doc = include_str!("../../../docs/configuration.md");
    let example = doc
        .split("### The config file\n\n```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("docs/configuration.md's config file example");
    let file = file::parse(example).expect("the example parses");
    let config = Config::merge(Cli::default(), file, Some("t0ken".into()))
        .expect("the example is valid with EVOLUX_TOKEN set");
    assert_eq!(config.campaigns.len(), 2);
    assert!(
        config.campaigns.iter().all(|c| c.filters.state.is_none()),
        "a state filter in the example would make that campaign's error ratio meaningless"
    );
    assert_eq!(
        config.evolux.token.describe(),
        TokenSource::literal("x".into()).describe()
    );
    // Its view `pj` is the API document's Caso 1 word for word: the whole
    // of its range asks exactly the document's query.
    let pj = config
        .poll_views()
        .into_iter()
        .find(|v| v.name == "pj")
        .expect("the Caso 1 view");
    let query = crate::model::Query::View(pj);
    let axis = crate::evolux::query::axis(&query, None);
    let whole = crate::model::Range {
        start: axis.start_at(0),
        end: axis.end,
    };
    let mut ours: Vec<(String, String)> = crate::evolux::query::params(&query, whole)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    // The query string of the document's Caso 1 request, as it gives it.
    let document = "start=2024-09-05T00%3A00%3A00.000Z&end=2024-09-06T23%3A59%3A59.999Z&conversation_field_key=perfil&conversation_field_value=Pessoa%20Jur%C3%ADdica";
    let mut theirs: Vec<(String, String)> = url::form_urlencoded::parse(document.as_bytes())
        .into_owned()
        .collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
}
