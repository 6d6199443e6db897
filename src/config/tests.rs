//! Loading, layering and checking the configuration.

use super::*;

#[test]
fn kafka_brokers_topic_prefix_and_group_are_checked_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    let args = GlobalArgs {
        config: Some(file.clone()),
        ..Default::default()
    };
    let load_with = |queue: &str| {
        std::fs::write(&file, format!("[queue]\ntype = \"kafka\"\n{queue}")).unwrap();
        load(&args).map(|_| ()).map_err(|e| e.to_string())
    };
    for good in [
        "brokers = \"kafka:9092\"",
        "brokers = \"kafka-1:9092, kafka-2:9092\"",
        "brokers = \"kafka\"",
        "brokers = \"SSL://kafka:9093\"",
        "brokers = \"sasl_ssl://kafka:9093\"",
        "brokers = \"[::1]:9092\"",
        "brokers = \"k:9092\"\ntopic_prefix = \"staging.v2_a-\"",
    ] {
        assert_eq!(load_with(good), Ok(()), "{good}");
    }
    for (bad, names) in [
        ("brokers = \"http://kafka:9092\"", "not HTTP URLs"),
        ("brokers = \"kafka:90x2\"", "'kafka:90x2'"),
        ("brokers = \"kafka:0\"", "(0 is out of range)"),
        ("brokers = \"127.0.0.1:99999\"", "(99999 is out of range)"),
        ("brokers = \"kafka://k:9092\"", "SASL_SSL://"),
        ("brokers = \"kafka:9092,,k2:9092\"", "''"),
        ("brokers = \"  \"", "queue.brokers"),
        (
            "brokers = \"k:9092\"\ntopic_prefix = \"my topics/\"",
            "queue.topic_prefix",
        ),
        ("brokers = \"k:9092\"\ngroup = \"\"", "queue.group"),
    ] {
        let e = load_with(bad).expect_err(bad);
        assert!(e.contains(names), "{bad}: {e}");
    }
    let long = format!(
        "brokers = \"k:9092\"\ntopic_prefix = \"{}\"",
        "p".repeat(229)
    );
    assert!(load_with(&long).unwrap_err().contains("at most 228"));
}

#[test]
fn queue_and_store_sections_default_their_type_and_intervals_are_checked_both() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    let args = GlobalArgs {
        config: Some(file.clone()),
        ..Default::default()
    };
    std::fs::write(
        &file,
        "[queue]\ncapacity = 5000\n[store]\nhistory_days = 30\n",
    )
    .unwrap();
    let s = load(&args).unwrap();
    assert_eq!(
        s.queue,
        crate::queue::QueueConfig::Memory { capacity: 5000 }
    );
    assert!(matches!(
        s.store,
        crate::store::StoreConfig::Sqlite {
            history_days: Some(30),
            ..
        }
    ));
    // A mistyped key in a section without `type` is still named.
    std::fs::write(&file, "[queue]\ncapacty = 5000\n").unwrap();
    let e = load(&args).err().unwrap().to_string();
    assert!(e.contains("capacty"), "{e}");
    // The live interval is checked in demo mode too, under its own name.
    for key in ["refresh_interval_secs", "demo_refresh_interval_secs"] {
        std::fs::write(&file, format!("[pipeline]\n{key} = 0\n")).unwrap();
        let e = load(&args).err().unwrap().to_string();
        assert!(e.contains(&format!("pipeline.{key}")), "{e}");
    }
    // Values that would overflow a clock later are refused now, with their range.
    for (toml, says) in [
        (
            "[pipeline]\nrefresh_interval_secs = 99999999999\n",
            "1 to 31536000 seconds",
        ),
        ("[discovery]\ninterval_hours = 1e12\n", "up to 8760"),
        ("[store]\nhistory_days = 0\n", "store.history_days"),
        ("[store]\nhistory_days = 4000000000\n", "1 to 36500 days"),
        // Values that would break the server or pipeline quietly are refused by name.
        ("[api]\nbody_limit_bytes = 0\n", "api.body_limit_bytes"),
        ("[store]\npath = \"\"\n", "store.path"),
        ("[discovery]\ntake = 0\n", "discovery.take"),
        ("[queue]\ncapacity = 0\n", "queue.capacity"),
        ("log = \"arbdesk=loud\"\n", "invalid log = 'arbdesk=loud'"),
        (
            "[discovery]\ncategories = [{ market = \"DE\", category = \" \" }]\n",
            "discovery.categories",
        ),
    ] {
        std::fs::write(&file, toml).unwrap();
        let e = load(&args).err().unwrap().to_string();
        assert!(e.contains(says), "{toml}: {e}");
    }
}

#[test]
fn cors_origins_are_kept_as_browsers_send_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(
        &file,
        "[api]\ncors_origins = [\"HTTPS://Dash.Example:443\", \"http://x.example:80\", \"http://x.example:8080\", \"*\"]\n",
    )
    .unwrap();
    let s = load(&GlobalArgs {
        config: Some(file),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        s.api.cors_origins,
        [
            "https://dash.example",
            "http://x.example",
            "http://x.example:8080",
            "*"
        ]
    );
}

#[test]
fn brokers_or_a_cluster_url_alone_choose_kafka_or_elasticsearch_and_contradicting_them_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, "").unwrap();
    let args = GlobalArgs {
        config: Some(file.clone()),
        kafka_brokers: Some("kafka:9092".into()),
        es_url: Some("http://es:9200".into()),
        ..Default::default()
    };
    let s = load(&args).unwrap();
    assert!(
        matches!(&s.queue, crate::queue::QueueConfig::Kafka(k) if k.brokers == "kafka:9092"),
        "{:?}",
        s.queue
    );
    assert!(
        matches!(&s.store, crate::store::StoreConfig::Elasticsearch(e) if e.url == "http://es:9200"),
        "{:?}",
        s.store
    );
    // An explicit in-process queue or SQLite file beside them is a contradiction, named.
    let e = load(&GlobalArgs {
        queue: Some(crate::cli::QueueKind::Memory),
        ..args.clone()
    })
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("--queue memory") && e.contains("'kafka:9092'") && e.contains("--queue kafka"),
        "{e}"
    );
    let e = load(&GlobalArgs {
        store: Some(crate::cli::StoreKind::Sqlite),
        ..args.clone()
    })
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("--store sqlite") && e.contains("'http://es:9200'"),
        "{e}"
    );
    std::fs::write(
        &file,
        "[queue]\ncapacity = 100\n[store]\nhistory_days = 30\n",
    )
    .unwrap();
    let e = load(&args).err().unwrap().to_string();
    assert!(e.contains("[queue] in the config file"), "{e}");
    let e = load(&GlobalArgs {
        kafka_brokers: None,
        ..args.clone()
    })
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("[store] in the config file") && e.contains("--es-url"),
        "{e}"
    );
    // Without them, the defaults stand.
    std::fs::write(&file, "").unwrap();
    let s = load(&GlobalArgs {
        config: Some(file.clone()),
        ..Default::default()
    })
    .unwrap();
    assert!(matches!(s.queue, crate::queue::QueueConfig::Memory { .. }));
    assert!(matches!(s.store, crate::store::StoreConfig::Sqlite { .. }));
}

#[test]
fn the_file_config_init_writes_is_the_defaults_and_leaves_the_shortcuts_working() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, TEMPLATE).unwrap();
    let plain = load(&GlobalArgs {
        config: Some(file.clone()),
        ..Default::default()
    })
    .unwrap();
    assert!(
        matches!(plain.queue, QueueConfig::Memory { .. }),
        "{:?}",
        plain.queue
    );
    assert_eq!(plain.store, StoreConfig::default());
    // `--kafka-brokers` and `--es-url` alone choose Kafka and Elasticsearch, as without it.
    let scaled = load(&GlobalArgs {
        config: Some(file),
        kafka_brokers: Some("kafka-1:9092".into()),
        es_url: Some("http://es-1:9200".into()),
        ..Default::default()
    })
    .unwrap();
    assert!(
        matches!(scaled.queue, QueueConfig::Kafka(_)),
        "{:?}",
        scaled.queue
    );
    assert!(
        matches!(scaled.store, StoreConfig::Elasticsearch(_)),
        "{:?}",
        scaled.store
    );
}

/// The demo's defaults refresh no faster than the simulator's refill pays for: a round of
/// the discovered watchlist in every market, at Keepa's prices, fits in the refill of one
/// refresh interval with room to spare.
#[test]
fn the_default_demo_spends_less_than_the_simulator_refills() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, "").unwrap();
    let s = load(&GlobalArgs {
        config: Some(file),
        ..Default::default()
    })
    .unwrap();
    assert!(s.keepa.is_demo());
    let watched = s.pipeline.discovery.len() * s.pipeline.discovery_take;
    // As the ingest stage asks.
    let mut query = crate::keepa::ProductQuery::new(crate::domain::Market::DE, Vec::new());
    query.buybox = s.keepa.buybox.asks(false);
    let round = (watched * s.markets.len()) as i64 * query.cost_per_product();
    let minutes = s.pipeline.refresh_interval.as_secs_f64() / 60.0;
    let refill = crate::keepa::sim::SimConfig::default().refill_rate as f64 * minutes;
    assert!(
        watched >= 100 && round > 0,
        "{watched} ASINs, {round} tokens a round"
    );
    assert!(
        (round as f64) <= 0.9 * refill,
        "a round costs {round} tokens every {minutes} min; the refill is {refill}"
    );
}

/// `keepa.buybox` is `true`, `false` or `"routes"`; unset, every product for demo data and
/// by route with a key; anything else is named with the three it takes.
#[test]
fn buybox_takes_true_false_or_routes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    let load_with = |text: &str, key: Option<&str>| {
        std::fs::write(&file, text).unwrap();
        load(&GlobalArgs {
            config: Some(file.clone()),
            keepa_key: key.map(str::to_string),
            ..Default::default()
        })
    };
    let buybox = |text: &str, key| load_with(text, key).unwrap().keepa.buybox;
    assert_eq!(buybox("", None), BuyBox::All);
    assert_eq!(buybox("", Some("K")), BuyBox::Routes);
    assert_eq!(buybox("[keepa]\nbuybox = true\n", Some("K")), BuyBox::All);
    assert_eq!(buybox("[keepa]\nbuybox = false\n", None), BuyBox::Off);
    assert_eq!(
        buybox("[keepa]\nbuybox = \"routes\"\n", None),
        BuyBox::Routes
    );
    for bad in ["\"some\"", "1"] {
        let e = load_with(&format!("[keepa]\nbuybox = {bad}\n"), None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains(&format!("keepa.buybox = {bad}")) && e.contains("\"routes\""),
            "{e}"
        );
    }
    // `config show` writes back what was set, and says what an unset one means.
    let s = load_with("[keepa]\nbuybox = \"routes\"\n", None).unwrap();
    assert!(
        show::render(&s).contains("\nbuybox = \"routes\"\n"),
        "{}",
        show::render(&s)
    );
    let s = load_with("", Some("K")).unwrap();
    assert!(
        show::render(&s).contains("# buybox: not set, so \"routes\""),
        "{}",
        show::render(&s)
    );
    // The SQLite store's file and history, and the VAT numbers, when not set.
    let shown = show::render(&s);
    let file = s.data_dir.join("arbdesk.sqlite");
    assert!(
        shown.contains(&format!("# path: not set, so \"{}\"", file.display()))
            && shown.contains("# history_days: not set, so 90")
            && shown.contains("# vat_registered_in: not set, so not checked"),
        "{shown}"
    );
    let s = load_with(
        "[store]\npath = \"x.sqlite\"\nhistory_days = 30\n[economics]\nvat_registered_in = [\"DE\"]\n",
        None,
    )
    .unwrap();
    let shown = show::render(&s);
    assert!(
        shown.contains("path = \"x.sqlite\"")
            && !shown.contains("# path: not set")
            && !shown.contains("# history_days: not set")
            && !shown.contains("# vat_registered_in: not set"),
        "{shown}"
    );
}

#[test]
fn a_data_dir_in_the_file_is_read_from_the_files_directory_and_home_is_expanded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    let load_with = |text: &str, args: GlobalArgs| {
        std::fs::write(&file, text).unwrap();
        load(&GlobalArgs {
            config: Some(file.clone()),
            ..args
        })
        .unwrap()
    };
    let s = load_with("data_dir = \"data\"\n", GlobalArgs::default());
    assert_eq!(s.data_dir, dir.path().join("data"));
    let home = directories::BaseDirs::new()
        .unwrap()
        .home_dir()
        .to_path_buf();
    let s = load_with(
        "data_dir = \"~/arbdesk-data\"\n[store]\npath = \"~/db/a.sqlite\"\n",
        GlobalArgs::default(),
    );
    assert_eq!(s.data_dir, home.join("arbdesk-data"));
    assert_eq!(
        s.store.local_file(&s.data_dir),
        Some(home.join("db/a.sqlite"))
    );
    // `~user` is not this user's home: left as written (relative, so in the file's dir).
    let s = load_with("data_dir = \"~other/x\"\n", GlobalArgs::default());
    assert_eq!(s.data_dir, dir.path().join("~other/x"));
    // A flag (or `ARBDESK_DATA_DIR`) is read from the working directory, `~` expanded.
    let s = load_with(
        "data_dir = \"data\"\n",
        GlobalArgs {
            data_dir: Some("~".into()),
            ..Default::default()
        },
    );
    assert_eq!(s.data_dir, home);
    let s = load_with(
        "data_dir = \"data\"\n",
        GlobalArgs {
            data_dir: Some("rel".into()),
            ..Default::default()
        },
    );
    assert_eq!(s.data_dir, std::path::PathBuf::from("rel"));
}

#[test]
fn a_relative_data_dir_whose_old_place_holds_the_store_is_said() {
    // A store in a directory named relatively to the working directory, as a relative
    // data_dir was read before.
    let old = tempfile::tempdir().unwrap();
    std::fs::write(old.path().join("arbdesk.sqlite"), b"").unwrap();
    let cwd = std::env::current_dir().unwrap();
    let up = "../".repeat(cwd.components().count() - 1);
    let relative = format!(
        "{up}{}",
        old.path().display().to_string().trim_start_matches('/')
    );
    assert!(
        std::path::Path::new(&relative)
            .join("arbdesk.sqlite")
            .is_file()
    );
    let cfg = tempfile::tempdir().unwrap();
    let nested = cfg.path().join("a/b/c");
    std::fs::create_dir_all(&nested).unwrap();
    let file = nested.join("config.toml");
    std::fs::write(&file, format!("data_dir = {relative:?}\n")).unwrap();
    let s = load(&GlobalArgs {
        config: Some(file.clone()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(s.data_dir, nested.join(&relative));
    assert_eq!(s.notes.len(), 1, "{:?}", s.notes);
    assert!(
        s.notes[0].contains("is read from the file's directory")
            && s.notes[0].contains("holds a store"),
        "{}",
        s.notes[0]
    );
    // Nothing there: nothing to say.
    std::fs::remove_file(old.path().join("arbdesk.sqlite")).unwrap();
    let s = load(&GlobalArgs {
        config: Some(file),
        ..Default::default()
    })
    .unwrap();
    assert!(s.notes.is_empty());
}

mod errors;
