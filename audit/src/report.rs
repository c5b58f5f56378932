//! The HTML report: [`report_html`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::record::Record;
use crate::show::short;
use crate::verify::VerifyReport;

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em;color:#1d232a;background:#fff}
h1{font-size:1.6em;margin-bottom:.2em}
h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
h3{font-size:1em;margin:1.2em 0 .4em}
code{font-family:ui-monospace,'SFMono-Regular',Menlo,Consolas,monospace;font-size:.9em;word-break:break-all}
.summary{border:2px solid #2da44e;border-radius:6px;padding:.6em 1.2em;background:#f0fff4;max-width:70em}
.summary.bad{border-color:#cf222e;background:#fff5f5}
.summary dl{display:grid;grid-template-columns:max-content auto;gap:.25em 1.2em;margin:.4em 0}
.summary dt{font-weight:600}
.summary dd{margin:0}
.break,.torn{color:#a40e26;font-weight:600;border-left:4px solid #cf222e;padding:.3em .6em;background:#ffebe9}
.ok{color:#116329;font-weight:600}
.note{color:#57606a;font-size:.9em}
table{border-collapse:collapse;margin:.4em 0;font-size:.9em}
th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f6f8fa}
tr.broken td{background:#ffebe9;color:#a40e26;font-weight:600}
tr.unverified td{background:#fff8c5}
.v-proved,.v-unsat{color:#116329;font-weight:600}
.v-disproved,.v-violated,.v-sat,.v-error{color:#a40e26;font-weight:600}
.v-other{color:#9a6700;font-weight:600}
.flag{color:#a40e26;font-size:.85em}
footer{margin-top:2em;color:#57606a;font-size:.8em}
";

/// Escapes text for HTML content and attribute values: `& < > " '`.
///
/// ```
/// assert_eq!(axiom_audit::escape_html(r#"<a href="x">'&'</a>"#),
///            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
/// ```
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn verdict_class(verdict: &str) -> &'static str {
    match verdict {
        "proved" => "v-proved",
        "unsat" => "v-unsat",
        "disproved" => "v-disproved",
        "violated" => "v-violated",
        "sat" => "v-sat",
        "error" => "v-error",
        _ => "v-other",
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RowStatus {
    Verified,
    Broken,
    Unverified,
}

/// Each record's status: verified up to the report's head, the broken
/// record (matched by its seq and hash), then unverified.
fn statuses(records: &[Record], report: &VerifyReport) -> Vec<RowStatus> {
    let head = report.head.as_ref().map(|h| (h.seq, h.hash.as_str()));
    let broken = report
        .first_break
        .as_ref()
        .and_then(|b| Some((b.seq?, b.hash.as_deref()?)));
    let mut past_head = head.is_none() && !report.is_ok();
    let mut marked = false;
    records
        .iter()
        .map(|r| {
            let key = (r.seq, r.hash.as_str());
            if !past_head {
                if Some(key) == head {
                    past_head = true;
                }
                RowStatus::Verified
            } else if !marked && Some(key) == broken {
                marked = true;
                RowStatus::Broken
            } else {
                RowStatus::Unverified
            }
        })
        .collect()
}

fn actor(record: &Record) -> String {
    let key = record
        .actor
        .key_id
        .as_deref()
        .map(|k| {
            format!(
                " <span class=\"note\">key <code>{}</code></span>",
                escape_html(short(k, 8))
            )
        })
        .unwrap_or_default();
    format!(
        "{}@{}{key}",
        escape_html(&record.actor.user),
        escape_html(&record.actor.host)
    )
}

fn opt_code(value: Option<&str>, n: usize) -> String {
    match value {
        Some(v) => format!(
            "<code title=\"{}\">{}</code>",
            escape_html(v),
            escape_html(short(v, n))
        ),
        None => "—".into(),
    }
}

/// The latest verdict of one obligation of one model.
struct Latest<'r> {
    record: &'r Record,
    status: RowStatus,
    verdict: &'r str,
    certificate: Option<&'r str>,
}

/// One use of a certificate: issued with a verdict, or read as an input.
struct CertUse<'r> {
    record: &'r Record,
    status: RowStatus,
    role: &'static str,
    model: &'r str,
    obligation: &'r str,
    verdict: &'r str,
}

/// One self-contained HTML5 page about the log: a summary (records, the
/// chain's state with the first break in red, the torn tail, the signing
/// keys, the head hash), a timeline of every record (broken and unverified
/// rows highlighted), each model digest with the latest verdict of each of
/// its obligations, and each certificate with what it is about and who
/// signed it. Values taken from the broken record or a record after it
/// (which the chain does not vouch for) are flagged as such.
///
/// Inline CSS only: no scripts and nothing fetched. Every string from the
/// log is escaped. The same input gives the same bytes.
pub fn report_html(records: &[Record], report: &VerifyReport) -> String {
    let mut h = String::new();
    let path = escape_html(&report.path.display().to_string());
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Axiom audit report: {path}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <h1>Axiom audit report</h1>\n<p>Log <code>{path}</code></p>\n"
    );
    let rows: Vec<(&Record, RowStatus)> = records.iter().zip(statuses(records, report)).collect();
    summary(&mut h, report);
    timeline(&mut h, &rows);
    models(&mut h, &rows);
    certificates(&mut h, &rows);
    let _ = write!(
        h,
        "<footer>Written by axiom-audit {}. Times are UTC.</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    h
}

fn summary(h: &mut String, report: &VerifyReport) {
    let class = if report.is_ok() {
        "summary"
    } else {
        "summary bad"
    };
    let _ = write!(
        h,
        "<section id=\"summary\" class=\"{class}\">\n<h2>Summary</h2>\n<dl>\n\
         <dt>Records</dt><dd>{} ({} verified, {} signed, {} lines)</dd>\n",
        report.records, report.verified, report.signed, report.lines
    );
    let chain = match &report.first_break {
        None => format!(
            "<span class=\"ok\">OK</span>: {} records verified",
            report.verified
        ),
        Some(_) => "<strong>BROKEN</strong> (see below)".into(),
    };
    let _ = writeln!(h, "<dt>Chain</dt><dd>{chain}</dd>");
    let torn = match &report.torn_tail {
        None => "none".into(),
        Some(t) => format!("line {} (see below)", t.line),
    };
    let _ = writeln!(h, "<dt>Torn tail</dt><dd>{torn}</dd>");
    let keys = if report.key_ids.is_empty() {
        "none (no record is signed)".to_string()
    } else {
        report
            .key_ids
            .iter()
            .map(|k| format!("<code>{}</code>", escape_html(k)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(h, "<dt>Signing keys</dt><dd>{keys}</dd>");
    let trusted = if report.trusted_key_ids.is_empty() {
        "none given: key continuity (one key for the whole log)".to_string()
    } else {
        report
            .trusted_key_ids
            .iter()
            .map(|k| format!("<code>{}</code>", escape_html(k)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(h, "<dt>Trusted keys</dt><dd>{trusted}</dd>");
    let head = match &report.head {
        Some(head) => format!(
            "seq {} (line {}), <code>{}</code>",
            head.seq,
            head.line,
            escape_html(&head.hash)
        ),
        None => "none (no good record)".into(),
    };
    let _ = write!(h, "<dt>Head hash</dt><dd>{head}</dd>\n</dl>\n");
    if let Some(b) = &report.first_break {
        let seq = b.seq.map(|s| format!(" (seq {s})")).unwrap_or_default();
        let _ = writeln!(
            h,
            "<p id=\"first-break\" class=\"break\">Chain broken at line {}{seq}: {}. \
             Records after it are not verified.</p>",
            b.line,
            escape_html(&b.reason)
        );
    }
    if let Some(t) = &report.torn_tail {
        let _ = writeln!(
            h,
            "<p id=\"torn-tail\" class=\"torn\">Torn tail at line {}: {}. A write was interrupted; \
             <code>axiom audit repair --log {}</code> keeps a backup and cuts the line off.</p>",
            t.line,
            escape_html(&t.reason),
            escape_html(&report.path.display().to_string())
        );
    }
    let _ = write!(
        h,
        "<p class=\"note\">Records deleted from the end of a log leave a valid chain: write the head \
         hash down elsewhere and check that a later report's chain still contains it.</p>\n</section>\n"
    );
}

/// A warning after a value taken from a record the chain does not vouch for.
fn trust_mark(status: RowStatus) -> &'static str {
    match status {
        RowStatus::Verified => "",
        RowStatus::Broken => " <span class=\"flag\">(from the broken record)</span>",
        RowStatus::Unverified => " <span class=\"flag\">(from an unverified record)</span>",
    }
}

fn timeline(h: &mut String, rows: &[(&Record, RowStatus)]) {
    let _ = write!(
        h,
        "<section id=\"timeline\">\n<h2>Timeline</h2>\n<table>\n<thead><tr><th>seq</th><th>time</th>\
         <th>kind</th><th>actor</th><th>command</th><th>outcome</th><th>verdicts</th></tr></thead>\n<tbody>\n"
    );
    if rows.is_empty() {
        h.push_str("<tr><td colspan=\"7\">no records</td></tr>\n");
    }
    for &(r, status) in rows {
        let class = match status {
            RowStatus::Verified => "",
            RowStatus::Broken => " class=\"broken\"",
            RowStatus::Unverified => " class=\"unverified\"",
        };
        let id = if status == RowStatus::Broken {
            " id=\"broken-record\""
        } else {
            ""
        };
        let mark = match status {
            RowStatus::Verified => "",
            RowStatus::Broken => " (broken)",
            RowStatus::Unverified => " (unverified)",
        };
        let detail = r
            .outcome
            .detail
            .as_deref()
            .map(|d| format!("<br>{}", escape_html(d)))
            .unwrap_or_default();
        let verdicts = r
            .outcome
            .verdicts
            .iter()
            .map(|v| {
                format!(
                    "{}/{}: <span class=\"{}\">{}</span>",
                    escape_html(&v.model),
                    escape_html(&v.obligation),
                    verdict_class(&v.verdict),
                    escape_html(&v.verdict)
                )
            })
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = writeln!(
            h,
            "<tr{class}{id}><td>{}{mark}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td>\
             <td>exit {}{detail}</td><td>{verdicts}</td></tr>",
            r.seq,
            escape_html(&r.time),
            r.kind,
            actor(r),
            escape_html(&r.command.join(" ")),
            r.outcome.exit_code,
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

fn models(h: &mut String, rows: &[(&Record, RowStatus)]) {
    // digest -> (model name, obligation) -> latest verdict
    let mut by_digest: BTreeMap<&str, BTreeMap<(&str, &str), Latest<'_>>> = BTreeMap::new();
    for &(r, status) in rows {
        for v in &r.outcome.verdicts {
            let digest = v
                .digest
                .as_deref()
                .or(r.inputs.model.as_deref())
                .unwrap_or("");
            by_digest.entry(digest).or_default().insert(
                (&v.model, &v.obligation),
                Latest {
                    record: r,
                    status,
                    verdict: &v.verdict,
                    certificate: v.certificate.as_deref(),
                },
            );
        }
    }
    h.push_str("<section id=\"models\">\n<h2>Models</h2>\n");
    if by_digest.is_empty() {
        h.push_str("<p>No record has verdicts.</p>\n");
    }
    for (digest, obligations) in &by_digest {
        let title = if digest.is_empty() {
            "No model digest recorded".to_string()
        } else {
            format!("Model <code>{}</code>", escape_html(digest))
        };
        let _ = write!(
            h,
            "<h3>{title}</h3>\n<table>\n<thead><tr><th>model</th><th>obligation</th><th>latest verdict</th>\
             <th>when</th><th>seq</th><th>kind</th><th>certificate</th></tr></thead>\n<tbody>\n"
        );
        for ((model, obligation), latest) in obligations {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td><span class=\"{}\">{}</span>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape_html(model),
                escape_html(obligation),
                verdict_class(latest.verdict),
                escape_html(latest.verdict),
                trust_mark(latest.status),
                escape_html(&latest.record.time),
                latest.record.seq,
                latest.record.kind,
                opt_code(latest.certificate, 16),
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str("</section>\n");
}

fn certificates(h: &mut String, rows: &[(&Record, RowStatus)]) {
    let mut by_cert: BTreeMap<&str, Vec<CertUse<'_>>> = BTreeMap::new();
    for &(r, status) in rows {
        if let Some(cert) = r.inputs.certificate.as_deref() {
            by_cert.entry(cert).or_default().push(CertUse {
                record: r,
                status,
                role: "checked",
                model: "",
                obligation: "",
                verdict: "",
            });
        }
        for v in &r.outcome.verdicts {
            if let Some(cert) = v.certificate.as_deref() {
                by_cert.entry(cert).or_default().push(CertUse {
                    record: r,
                    status,
                    role: "issued",
                    model: &v.model,
                    obligation: &v.obligation,
                    verdict: &v.verdict,
                });
            }
        }
    }
    h.push_str("<section id=\"certificates\">\n<h2>Certificates</h2>\n");
    if by_cert.is_empty() {
        h.push_str("<p>No record names a certificate.</p>\n");
    } else {
        h.push_str(
            "<table>\n<thead><tr><th>certificate</th><th>use</th><th>model</th><th>obligation</th>\
             <th>verdict</th><th>signer key</th><th>actor</th><th>seq</th><th>time</th></tr></thead>\n<tbody>\n",
        );
        for (cert, uses) in &by_cert {
            for u in uses {
                let verdict = if u.role == "checked" {
                    format!(
                        "exit {}{}",
                        u.record.outcome.exit_code,
                        trust_mark(u.status)
                    )
                } else {
                    format!(
                        "<span class=\"{}\">{}</span>{}",
                        verdict_class(u.verdict),
                        escape_html(u.verdict),
                        trust_mark(u.status)
                    )
                };
                let signer = opt_code(u.record.signature.as_ref().map(|s| s.key_id.as_str()), 32);
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{verdict}</td><td>{signer}</td>\
                     <td>{}@{}</td><td>{}</td><td>{}</td></tr>",
                    opt_code(Some(cert), 16),
                    u.role,
                    escape_html(u.model),
                    escape_html(u.obligation),
                    escape_html(&u.record.actor.user),
                    escape_html(&u.record.actor.host),
                    u.record.seq,
                    escape_html(&u.record.time),
                );
            }
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::sample;
    use crate::record::GENESIS_PREV;
    use crate::verify::{ChainBreak, Head};
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    fn report_for(records: &[Record], break_at: Option<usize>) -> VerifyReport {
        let good = break_at.unwrap_or(records.len());
        VerifyReport {
            path: PathBuf::from("audit.log"),
            lines: records.len() as u64,
            records: records.len() as u64,
            verified: good as u64,
            signed: 0,
            key_ids: BTreeSet::new(),
            trusted_key_ids: vec![],
            head: good.checked_sub(1).map(|i| Head {
                line: i as u64 + 1,
                seq: records[i].seq,
                hash: records[i].hash.clone(),
            }),
            first_break: break_at.map(|i| ChainBreak {
                line: i as u64 + 1,
                seq: Some(records[i].seq),
                hash: Some(records[i].hash.clone()),
                reason: "the hash does not match".into(),
            }),
            torn_tail: None,
            unsigned: vec![],
            unsigned_after_signed: vec![],
            signatures_required: false,
        }
    }

    #[test]
    fn rows_are_verified_then_broken_then_unverified() {
        let a = sample(1, GENESIS_PREV, None);
        let b = sample(2, &a.hash, None);
        let c = sample(3, &b.hash, None);
        let records = [a, b, c];
        use RowStatus::*;
        assert!(statuses(&records, &report_for(&records, None)) == [Verified; 3]);
        assert!(
            statuses(&records, &report_for(&records, Some(1))) == [Verified, Broken, Unverified]
        );
        assert!(
            statuses(&records, &report_for(&records, Some(0))) == [Broken, Unverified, Unverified]
        );
    }

    #[test]
    fn the_page_is_deterministic_and_names_the_latest_verdicts() {
        let a = sample(1, GENESIS_PREV, None);
        let mut b = sample(2, &a.hash, None);
        b.outcome.verdicts[0].verdict = "disproved".into();
        b.time = "2026-11-24T09:00:00.000Z".into();
        let records = [a, b];
        let report = report_for(&records, None);
        let page = report_html(&records, &report);
        assert_eq!(page, report_html(&records, &report));
        let models =
            &page[page.find("id=\"models\"").unwrap()..page.find("id=\"certificates\"").unwrap()];
        assert!(
            models.contains("disproved") && !models.contains(">proved<"),
            "{models}"
        );
        assert!(models.contains("2026-11-24T09:00:00.000Z"));
        assert!(page.contains("class=\"ok\""));
        assert!(!page.contains("first-break"));
    }
}
