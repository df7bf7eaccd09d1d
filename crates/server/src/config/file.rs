//! etcd's YAML configuration file (`--config-file`), turned into `--flag=value` arguments.
//!
//! Keys are etcd's: mostly the flag names, plus the nested
//! `client-transport-security`, `peer-transport-security` and `socket-options`
//! maps. Durations are nanosecond integers in etcd's files (Go's
//! `time.Duration`), or Go duration strings; both are accepted.

use yaml_rust2::Yaml;
use yaml_rust2::YamlLoader;

use super::ConfigError;

/// Keys whose integer values are Go durations in nanoseconds.
const DURATION_KEYS: &[&str] = &[
    "grpc-keepalive-min-time",
    "grpc-keepalive-interval",
    "grpc-keepalive-timeout",
    "backend-batch-interval",
    "experimental-corrupt-check-time",
    "experimental-compact-hash-check-time",
    "experimental-compaction-sleep-interval",
    "experimental-watch-progress-notify-interval",
    "experimental-warning-apply-duration",
    "experimental-downgrade-check-time",
];

/// The YAML document as command-line arguments (`--key=value`, without the program name).
pub(crate) fn to_args(text: &str) -> Result<Vec<String>, ConfigError> {
    let docs = YamlLoader::load_from_str(text)
        .map_err(|e| ConfigError::Invalid(format!("config file is not valid YAML: {e}")))?;
    let Some(doc) = docs.into_iter().next() else {
        return Ok(Vec::new());
    };
    let map = match doc {
        Yaml::Hash(map) => map,
        Yaml::Null => return Ok(Vec::new()),
        _ => return Err(invalid("the config file must be a mapping of etcd's keys")),
    };
    let mut args = Vec::new();
    for (key, value) in map {
        let key = key_name(&key)?;
        match key.as_str() {
            "client-transport-security" => nested(&value, client_tls_flag, &mut args)?,
            "peer-transport-security" => nested(&value, peer_tls_flag, &mut args)?,
            "socket-options" => nested(&value, socket_flag, &mut args)?,
            "experimental-snapshot-catch-up-entries" => {
                push(&mut args, "experimental-snapshot-catchup-entries", &value)?
            }
            _ => push(&mut args, &key, &value)?,
        }
    }
    Ok(args)
}

fn invalid(message: &str) -> ConfigError {
    ConfigError::Invalid(message.to_string())
}

fn key_name(key: &Yaml) -> Result<String, ConfigError> {
    match key {
        Yaml::String(key) => Ok(key.clone()),
        other => Err(ConfigError::Invalid(format!(
            "config file key {other:?} is not a string"
        ))),
    }
}

fn nested(
    value: &Yaml,
    rename: fn(&str) -> Option<&'static str>,
    args: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let map = match value {
        Yaml::Hash(map) => map,
        Yaml::Null => return Ok(()),
        _ => {
            return Err(invalid(
                "config file: a transport-security or socket-options value must be a mapping",
            ));
        }
    };
    for (key, value) in map {
        let key = key_name(key)?;
        let flag = rename(&key)
            .ok_or_else(|| ConfigError::Invalid(format!("config file: unknown key {key:?}")))?;
        push(args, flag, value)?;
    }
    Ok(())
}

fn client_tls_flag(key: &str) -> Option<&'static str> {
    Some(match key {
        "cert-file" => "cert-file",
        "key-file" => "key-file",
        "client-cert-file" => "client-cert-file",
        "client-key-file" => "client-key-file",
        "client-cert-auth" => "client-cert-auth",
        "trusted-ca-file" => "trusted-ca-file",
        "auto-tls" => "auto-tls",
        "allowed-hostname" => "client-cert-allowed-hostname",
        "crl-file" => "client-crl-file",
        _ => return None,
    })
}

fn peer_tls_flag(key: &str) -> Option<&'static str> {
    Some(match key {
        "cert-file" => "peer-cert-file",
        "key-file" => "peer-key-file",
        "client-cert-file" => "peer-client-cert-file",
        "client-key-file" => "peer-client-key-file",
        "client-cert-auth" => "peer-client-cert-auth",
        "trusted-ca-file" => "peer-trusted-ca-file",
        "auto-tls" => "peer-auto-tls",
        "allowed-cn" => "peer-cert-allowed-cn",
        "allowed-hostname" => "peer-cert-allowed-hostname",
        "crl-file" => "peer-crl-file",
        _ => return None,
    })
}

fn socket_flag(key: &str) -> Option<&'static str> {
    Some(match key {
        "reuse-port" => "socket-reuse-port",
        "reuse-address" => "socket-reuse-address",
        _ => return None,
    })
}

fn push(args: &mut Vec<String>, flag: &str, value: &Yaml) -> Result<(), ConfigError> {
    let text = match value {
        Yaml::Null => return Ok(()),
        Yaml::Integer(n) if DURATION_KEYS.contains(&flag) => format!("{n}ns"),
        Yaml::Integer(n) => n.to_string(),
        Yaml::Real(text) | Yaml::String(text) => text.clone(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Array(items) => items
            .iter()
            .map(scalar)
            .collect::<Result<Vec<_>, _>>()?
            .join(","),
        _ => {
            return Err(ConfigError::Invalid(format!(
                "config file: unsupported value for {flag:?}"
            )));
        }
    };
    args.push(format!("--{flag}={text}"));
    Ok(())
}

fn scalar(value: &Yaml) -> Result<String, ConfigError> {
    match value {
        Yaml::Integer(n) => Ok(n.to_string()),
        Yaml::Real(text) | Yaml::String(text) => Ok(text.clone()),
        Yaml::Boolean(b) => Ok(b.to_string()),
        _ => Err(invalid("config file: lists may hold only scalars")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_yaml_keys_become_flags() {
        let text = "name: infra1\nheartbeat-interval: 200\ngrpc-keepalive-timeout: 20000000000\n\
            log-outputs: [stderr]\nclient-transport-security:\n  cert-file: /c.pem\n  client-cert-auth: true\n\
            peer-transport-security:\n  trusted-ca-file: /ca.pem\nproxy: off\nenable-v2: false\ndiscovery:\n";
        let args = to_args(text).unwrap();
        assert_eq!(
            args,
            vec![
                "--name=infra1",
                "--heartbeat-interval=200",
                "--grpc-keepalive-timeout=20000000000ns",
                "--log-outputs=stderr",
                "--cert-file=/c.pem",
                "--client-cert-auth=true",
                "--peer-trusted-ca-file=/ca.pem",
                "--proxy=off",
                "--enable-v2=false",
            ]
        );
    }

    #[test]
    fn unknown_nested_key_and_bad_yaml_are_errors() {
        assert!(to_args("peer-transport-security:\n  nonsense: 1\n").is_err());
        assert!(to_args("name: [unclosed\n").is_err());
        assert!(to_args("- a\n- b\n").is_err());
        assert!(to_args("").unwrap().is_empty());
    }
}
