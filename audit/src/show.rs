//! Reviewing: [`Filter`] records and format them for people
//! ([`format_human`]) or programs ([`format_json`]).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::record::Record;
use crate::AuditError;

/// Which records to show; an empty filter (the default) shows all.
///
/// ```
/// use axiom_audit::{parse_since, Filter};
///
/// let filter = Filter {
///     model: Some("sha256:ab12".into()),
///     kind: Some("certify".into()),
///     since: Some(parse_since("2026-11-23").unwrap()),
/// };
/// assert!(filter.model.is_some());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Records whose `inputs.model`, or the digest of one of whose
    /// verdicts, starts with this digest (a prefix
    /// will do; a `sha256:` prefix on either side is ignored; case is
    /// ignored).
    pub model: Option<String>,
    /// Records of this kind (`"cert-verify"`; see [`Kind`](crate::Kind)).
    pub kind: Option<String>,
    /// Records written at or after this time.
    pub since: Option<SystemTime>,
}

impl Filter {
    /// Whether `record` passes every condition set.
    pub fn matches(&self, record: &Record) -> bool {
        if let Some(want) = &self.model {
            let want = strip_sha(want.trim()).to_ascii_lowercase();
            let mut digests = record.inputs.model.iter().chain(
                record
                    .outcome
                    .verdicts
                    .iter()
                    .filter_map(|v| v.digest.as_ref()),
            );
            if !digests.any(|have| strip_sha(have).to_ascii_lowercase().starts_with(&want)) {
                return false;
            }
        }
        if let Some(kind) = &self.kind {
            if record.kind.as_str() != kind.trim() {
                return false;
            }
        }
        if let Some(since) = self.since {
            match humantime::parse_rfc3339(&record.time) {
                Ok(time) if time >= since => {}
                _ => return false,
            }
        }
        true
    }

    /// The records that pass, in order.
    pub fn apply<'r>(&self, records: &'r [Record]) -> Vec<&'r Record> {
        records.iter().filter(|r| self.matches(r)).collect()
    }
}

fn strip_sha(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// Parses a `--since` time: an RFC 3339 time (`2026-11-23T18:40:01Z`,
/// fractions of a second and offsets such as `+01:00` allowed, `T` or a
/// space between date and time) or a plain date (`2026-11-23`, meaning
/// midnight UTC).
///
/// ```
/// use axiom_audit::parse_since;
/// use std::time::Duration;
///
/// let day = parse_since("2026-11-23").unwrap();
/// let later = parse_since("2026-11-23T01:00:00+01:00").unwrap();
/// assert_eq!(day, later);
/// assert_eq!(parse_since("2026-11-23T00:00:01.5Z").unwrap(), day + Duration::from_millis(1500));
/// assert!(parse_since("yesterday").is_err());
/// ```
pub fn parse_since(text: &str) -> Result<SystemTime, AuditError> {
    let input = text.trim();
    let err = |message: String| AuditError::Time {
        input: text.into(),
        message,
    };
    if input.is_empty() {
        return Err(err("the time is empty".into()));
    }
    let bytes = input.as_bytes();
    if bytes.len() == 10 && !input.contains(['T', 't', ' ']) {
        return humantime::parse_rfc3339(&format!("{input}T00:00:00Z"))
            .map_err(|e| err(format!("not a date of the form YYYY-MM-DD ({e})")));
    }
    if bytes.len() <= 10 {
        return Err(err("expected a date (YYYY-MM-DD) or a date and time".into()));
    }
    let time = input.replacen([' ', 't'], "T", 1);
    // humantime reads only `Z`; an offset `+HH:MM` / `-HH:MM` is applied here.
    let split = time
        .len()
        .checked_sub(6)
        .filter(|&i| time.is_char_boundary(i))
        .map(|i| time.split_at(i));
    let (local, offset) = match split {
        Some((local, off))
            if (off.starts_with('+') || off.starts_with('-')) && off.as_bytes()[3] == b':' =>
        {
            let field = |range: std::ops::Range<usize>| -> Result<u64, AuditError> {
                off.get(range)
                    .filter(|f| f.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|f| f.parse().ok())
                    .ok_or_else(|| err(format!("the offset '{off}' is not +HH:MM or -HH:MM")))
            };
            let hours = field(1..3)?;
            let minutes = field(4..6)?;
            if hours > 23 || minutes > 59 {
                return Err(err(format!("the offset '{off}' is out of range")));
            }
            let secs = Duration::from_secs(hours * 3600 + minutes * 60);
            (format!("{local}Z"), Some((off.starts_with('+'), secs)))
        }
        _ => (time.replace('z', "Z"), None),
    };
    if !local.ends_with('Z') {
        return Err(err(
            "the time zone is missing: end the time with Z (UTC) or an offset such as +01:00"
                .into(),
        ));
    }
    let at = humantime::parse_rfc3339(&local).map_err(|e| err(e.to_string()))?;
    let at = match offset {
        None => Some(at),
        // Local time = UTC + offset, so UTC = local time - offset.
        Some((true, d)) => at.checked_sub(d),
        Some((false, d)) => at.checked_add(d),
    };
    at.ok_or_else(|| err("the time is out of range".into()))
}

/// One line per record: seq, time, kind, user@host (and the signing key's
/// id, shortened), exit code, a summary of the verdicts, and the model
/// digest, shortened.
///
/// ```text
/// #3  2026-11-23T18:40:01.123Z  certify      alice@lab [key 5d6c0f1e]  exit 0  proved 2, unknown 1  model ab12cd34ef56
/// ```
pub fn format_human(records: &[Record]) -> String {
    let mut out = String::new();
    for r in records {
        let key = r
            .actor
            .key_id
            .as_deref()
            .map(|k| format!(" [key {}]", short(k, 8)))
            .unwrap_or_default();
        let _ = write!(
            out,
            "#{}  {}  {:<12} {}@{}{key}  exit {}",
            r.seq, r.time, r.kind, r.actor.user, r.actor.host, r.outcome.exit_code
        );
        let summary = verdict_summary(r);
        if !summary.is_empty() {
            let _ = write!(out, "  {summary}");
        }
        if let Some(model) = &r.inputs.model {
            let _ = write!(out, "  model {}", short(strip_sha(model), 12));
        }
        out.push('\n');
    }
    out
}

/// The verdicts counted, in order of first appearance: `proved 2, unknown 1`.
pub(crate) fn verdict_summary(record: &Record) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for v in &record.outcome.verdicts {
        match counts.iter_mut().find(|(name, _)| *name == v.verdict) {
            Some((_, n)) => *n += 1,
            None => counts.push((&v.verdict, 1)),
        }
    }
    counts
        .iter()
        .map(|(v, n)| format!("{v} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first `n` characters of `s`.
pub(crate) fn short(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The records as a pretty-printed JSON array (the same objects as the
/// log's lines), ending with a newline.
pub fn format_json(records: &[Record]) -> String {
    // Records hold only strings, integers and lists: this cannot fail.
    let mut out = serde_json::to_string_pretty(records).unwrap_or_else(|_| "[]".into());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::sample;
    use crate::record::GENESIS_PREV;
    use crate::{Kind, VerdictEntry};

    #[test]
    fn parse_since_reads_dates_times_and_offsets() {
        let day = parse_since("2026-11-23").unwrap();
        assert_eq!(
            day,
            humantime::parse_rfc3339("2026-11-23T00:00:00Z").unwrap()
        );
        assert_eq!(parse_since(" 2026-11-23 ").unwrap(), day);
        let t = humantime::parse_rfc3339("2026-11-23T18:40:01.123Z").unwrap();
        for text in [
            "2026-11-23T18:40:01.123Z",
            "2026-11-23 18:40:01.123Z",
            "2026-11-23t18:40:01.123z",
            "2026-11-23T19:40:01.123+01:00",
            "2026-11-23T13:10:01.123-05:30",
        ] {
            assert_eq!(parse_since(text).unwrap(), t, "{text}");
        }
        for (text, words) in [
            ("", "empty"),
            ("yesterday", "date"),
            ("2026-13-01", "YYYY-MM-DD"),
            ("2026-02-30", "YYYY-MM-DD"),
            ("2026-11-23T18:40:01", "time zone"),
            ("2026-11-23T18:40:01+1a:00", "offset"),
            ("2026-11-23T18:40:01+25:00", "out of range"),
            ("2026-11-23T18:40Z", ""),
            ("2026-11-23T18:40:01+01:00junk", ""),
        ] {
            let e = parse_since(text).unwrap_err().to_string();
            assert!(e.contains(words) && e.contains("hint"), "{text}: {e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_since_never_panics(
            any in "\\PC{0,40}",
            near in "[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9:.]{0,14}([Zz]|[+-][0-9a]{1,2}:[0-9]{2}|é)?)?",
        ) {
            let _ = parse_since(&any);
            if let Ok(t) = parse_since(&near) {
                // Whatever parses is on or after the day it names.
                let day = parse_since(&near[..10]).unwrap();
                let offset = near.contains(['+', '-']) && near.len() > 10 && near[10..].contains(['+', '-']);
                proptest::prop_assert!(offset || t >= day, "{near}");
            }
        }
    }

    #[test]
    fn filters_match_model_prefixes_kinds_and_times() {
        let mut r = sample(1, GENESIS_PREV, None);
        r.inputs.model = Some(format!("ab12{}", "0".repeat(60)));
        assert!(Filter::default().matches(&r));
        for model in [
            "ab12",
            "sha256:ab12",
            "AB12",
            &r.inputs.model.clone().unwrap(),
        ] {
            let f = Filter {
                model: Some(model.into()),
                ..Filter::default()
            };
            assert!(f.matches(&r), "{model}");
        }
        let other = Filter {
            model: Some("ab13".into()),
            ..Filter::default()
        };
        assert!(!other.matches(&r));
        let mut prefixed = r.clone();
        prefixed.inputs.model = Some(format!("sha256:{}", r.inputs.model.clone().unwrap()));
        assert!(Filter {
            model: Some("ab12".into()),
            ..Filter::default()
        }
        .matches(&prefixed));
        let mut none = r.clone();
        none.inputs.model = None;
        assert!(!other.matches(&none));

        let kind = |k: &str| Filter {
            kind: Some(k.into()),
            ..Filter::default()
        };
        assert!(kind("certify").matches(&r));
        assert!(!kind("check").matches(&r));
        r.kind = Kind::CertVerify;
        assert!(kind("cert-verify").matches(&r));

        let since = |t: &str| Filter {
            since: Some(parse_since(t).unwrap()),
            ..Filter::default()
        };
        // The sample's time is 2026-11-23T18:40:01.123Z.
        assert!(since("2026-11-23").matches(&r));
        assert!(since("2026-11-23T18:40:01.123Z").matches(&r));
        assert!(!since("2026-11-23T18:40:01.124Z").matches(&r));
        assert!(!since("2026-11-24").matches(&r));
        let mut bad_time = r.clone();
        bad_time.time = "not a time".into();
        assert!(!since("2000-01-01").matches(&bad_time));

        let records = vec![r.clone(), none.clone(), r.clone()];
        let picked = kind("cert-verify").apply(&records);
        assert_eq!(picked.len(), 2);
        assert!(picked.iter().all(|p| p.kind == Kind::CertVerify));
    }

    #[test]
    fn human_lines_summarise_each_record() {
        let key = axiom_certs::SecretKey::from_seed([2; 32]);
        let mut r = sample(3, GENESIS_PREV, Some(&key));
        r.outcome.verdicts.push(VerdictEntry {
            verdict: "unknown".into(),
            ..VerdictEntry::default()
        });
        r.outcome.verdicts.push(VerdictEntry {
            verdict: "proved".into(),
            ..VerdictEntry::default()
        });
        let text = format_human(&[r.clone(), sample(4, &r.hash, None)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let id = key.public().id();
        assert_eq!(
            lines[0],
            format!(
                "#3  2026-11-23T18:40:01.123Z  certify      alice@lab [key {}]  exit 0  proved 2, unknown 1  model {}",
                &id[..8],
                "ab".repeat(6)
            )
        );
        assert!(lines[1].starts_with("#4 ") && !lines[1].contains("[key"));
    }

    #[test]
    fn json_is_an_array_of_the_records() {
        let r = sample(1, GENESIS_PREV, None);
        let text = format_json(std::slice::from_ref(&r));
        let back: Vec<crate::Record> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, vec![r]);
        assert_eq!(format_json(&[]), "[]\n");
    }
}
