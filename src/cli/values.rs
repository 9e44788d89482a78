//! Flag values that clap does not check by itself, parsed once into their
//! ready form: durations (range-checked, so that no later arithmetic can
//! overflow), a guard's TTL, and a probe's command line.

use std::time::Duration;

/// A guard's TTL: at least 2 s (its heartbeat beats every TTL/5), at most
/// an hour.
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(2) || d > Duration::from_secs(3600) {
        return Err("must be between 2s and 1h".into());
    }
    Ok(d)
}

/// A probe's shell command line: not blank (a blank `sh -c` exits 0,
/// which would call every holder alive without asking anything).
pub fn parse_probe(s: &str) -> Result<String, String> {
    match s.trim().is_empty() {
        true => Err("must be a shell command (it is blank)".into()),
        false => Ok(s.to_string()),
    }
}

/// A holder's lease: at least 1 s (it is renewed every third of it), at
/// most a day (the registry keeps it in milliseconds, as an INT).
pub fn parse_lease(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(1) || d > Duration::from_secs(24 * 3600) {
        return Err("must be between 1s and 24h".into());
    }
    Ok(d)
}

/// How long a bench phase runs: at least 100ms (a shorter one measures
/// nothing), at most an hour.
pub fn parse_phase(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(100) || d > Duration::from_secs(3600) {
        return Err("must be between 100ms and 1h".into());
    }
    Ok(d)
}

/// How often `locks watch` reads the locks: at least 100ms (the server
/// deserves a breath), at most an hour.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(100) || d > Duration::from_secs(3600) {
        return Err("must be between 100ms and 1h".into());
    }
    Ok(d)
}

/// The longest duration any flag takes: ten years is forever enough.
const DURATION_MAX: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// `30s`, `5m`, `1h30m`, `250ms`; a bare number is seconds. At most ten
/// years.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = match s.trim().parse::<f64>() {
        Ok(secs) if !secs.is_finite() || secs < 0.0 => {
            return Err("must be a positive number of seconds (try 30s, 5m or 250ms)".into())
        }
        Ok(secs) if secs > DURATION_MAX.as_secs_f64() => None,
        Ok(secs) => Some(Duration::from_secs_f64(secs)),
        Err(_) => {
            Some(humantime::parse_duration(s).map_err(|e| format!("{e} (try 30s, 5m or 250ms)"))?)
        }
    };
    match d {
        Some(d) if d <= DURATION_MAX => Ok(d),
        _ => Err("is longer than ten years, the most locksmith waits for anything".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("1e19").is_err(), "range-checked, no panic");
        assert!(parse_duration("1e20s").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("NaN").is_err());
        assert!(parse_duration("99999999999h").is_err());
        assert!(parse_ttl("1s").is_err() && parse_ttl("2h").is_err());
    }
}
