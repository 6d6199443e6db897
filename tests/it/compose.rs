//! `docker-compose.yml` against the real CLI: every arbdesk service's command line, with the
//! settings its environment gives, is accepted by the parser and the config layer, and the
//! topology is the documented one (Kafka in KRaft mode, Elasticsearch 8, ingest, three
//! workers, an API on port 8000, health checks everywhere).

use std::collections::BTreeMap;

use arbdesk::cli::{Cli, Role};
use arbdesk::queue::QueueConfig;
use arbdesk::store::StoreConfig;
use clap::{CommandFactory, Parser};
use serde_yaml::Value;

fn compose() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml");
    let text = std::fs::read_to_string(path).unwrap();
    let mut v: Value = serde_yaml::from_str(&text).unwrap();
    v.apply_merge().unwrap();
    v
}

/// `${VAR:-default}` as compose expands it with `VAR` unset.
fn expand(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').map(|e| i + e).unwrap();
        let inner = &rest[i + 2..end];
        out.push_str(inner.split_once(":-").map(|(_, d)| d).unwrap_or(""));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| s.iter().map(|x| expand(x.as_str().unwrap())).collect())
        .unwrap_or_default()
}

/// A service's environment as flags: each variable that a CLI argument reads (`env = …`)
/// becomes that argument, so the check needs no change to this process's environment.
fn env_flags(env: &Value) -> Vec<String> {
    let by_env: BTreeMap<String, String> = Cli::command()
        .get_arguments()
        .filter_map(|a| {
            let env = a.get_env()?.to_str()?.to_string();
            Some((env, a.get_long()?.to_string()))
        })
        .collect();
    let mut flags = Vec::new();
    for (k, v) in env.as_mapping().into_iter().flatten() {
        let (k, v) = (k.as_str().unwrap(), expand(&yaml_scalar(v)));
        if v.is_empty() {
            continue;
        }
        let long = by_env
            .get(k)
            .unwrap_or_else(|| panic!("{k} is not read by any arbdesk flag"));
        flags.push(format!("--{long}"));
        flags.push(v);
    }
    flags
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("unexpected environment value {other:?}"),
    }
}

#[test]
fn every_arbdesk_service_command_is_accepted_by_the_cli() {
    let c = compose();
    let services = c["services"].as_mapping().unwrap();
    let config = tempfile::NamedTempFile::new().unwrap();
    let mut roles: BTreeMap<String, Vec<Role>> = BTreeMap::new();
    for (name, s) in services {
        let name = name.as_str().unwrap();
        assert!(
            s.get("healthcheck").is_some() || s.get("profiles").is_some(),
            "{name} has no health check"
        );
        if s["image"].as_str() != Some("arbdesk:latest") {
            continue;
        }
        let mut args = vec!["arbdesk".to_string()];
        args.extend(strings(&s["command"]));
        args.extend(env_flags(&s["environment"]));
        args.extend(["--config".into(), config.path().display().to_string()]);
        let cli = Cli::try_parse_from(&args)
            .unwrap_or_else(|e| panic!("{name}: {args:?} is refused by the CLI:\n{e}"));
        if cli.command.is_some() {
            continue; // keepa-sim: a subcommand with its own flags, parsed above
        }
        let settings = arbdesk::config::load(&cli.global)
            .unwrap_or_else(|e| panic!("{name}: {args:?} is refused by the config: {e}"));
        assert!(settings.serve, "{name} runs headless");
        let api = arbdesk::commands::serve::api_settings(&settings)
            .unwrap_or_else(|e| panic!("{name}: {args:?} would not start its API: {e}"));
        assert!(api.is_some(), "{name} answers /health for its health check");
        assert!(
            matches!(settings.queue, QueueConfig::Kafka(ref k) if k.brokers == "kafka:9092"),
            "{name}: {:?}",
            settings.queue
        );
        assert!(
            matches!(settings.store, StoreConfig::Elasticsearch(ref e) if e.url == "http://elasticsearch:9200"),
            "{name}: {:?}",
            settings.store
        );
        roles.insert(name.to_string(), settings.roles.clone());
    }
    let has = |svc: &str, r: Role| roles[svc].contains(&r);
    assert!(has("arbdesk-ingest", Role::Ingest) && !has("arbdesk-ingest", Role::Process));
    assert!(has("arbdesk-worker", Role::Process) && !has("arbdesk-worker", Role::Ingest));
    assert_eq!(roles["arbdesk-api"], vec![Role::Api]);
}

#[test]
fn the_topology_is_kafka_kraft_elasticsearch_8_and_three_workers() {
    let c = compose();
    let s = &c["services"];
    // The fallback token is the one a process warns about.
    let token = s["arbdesk-api"]["environment"]["ARBDESK_API_TOKEN"]
        .as_str()
        .unwrap();
    assert_eq!(
        expand(token),
        arbdesk::commands::serve::COMPOSE_FALLBACK_TOKEN,
        "{token}"
    );
    assert!(s.get("zookeeper").is_none(), "KRaft needs no ZooKeeper");
    let kafka_roles = s["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
        .as_str()
        .unwrap();
    assert!(kafka_roles.contains("controller") && kafka_roles.contains("broker"));
    let es_image = s["elasticsearch"]["image"].as_str().unwrap();
    assert!(es_image.contains(":8."), "{es_image}");
    assert_eq!(s["arbdesk-worker"]["deploy"]["replicas"].as_u64(), Some(3));
    // On the host's loopback unless told otherwise: the fallback token is public.
    assert_eq!(strings(&s["arbdesk-api"]["ports"]), ["127.0.0.1:8000:8000"]);
    for svc in ["arbdesk-ingest", "arbdesk-worker", "arbdesk-api"] {
        for dep in ["kafka", "elasticsearch"] {
            assert_eq!(
                s[svc]["depends_on"][dep]["condition"].as_str(),
                Some("service_healthy"),
                "{svc} waits for {dep}"
            );
        }
    }
    assert!(
        s["arbdesk-ingest"]["build"].as_str().is_some(),
        "the image is built here"
    );
}
