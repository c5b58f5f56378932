//! The HTML report: valid, self-contained, escaped; rendered by a browser
//! when one is installed.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use axiom_audit::{append, read_records, report_html, Event, Kind};
use scraper::{Html, Selector};

const INJECTED: &str =
    "<script>alert('x')</script> & \"quoted\" <img src=https://evil.example/x.png>";

/// A signed log of 12 records, one with an injected detail, whose record 8
/// was edited; and its report.
fn damaged_report() -> (tempfile::TempDir, String) {
    let key = common::key_a();
    let (dir, path, _) = common::log(6, Some(&key));
    let mut event = Event::new(Kind::Run, ["axiom", "run", "<b>model</b>.onnx"]);
    event.outcome.exit_code = 3;
    event.outcome.detail = Some(INJECTED.into());
    append(&path, &event, Some(&key)).unwrap();
    for i in 7..12 {
        append(&path, &common::event(i), Some(&key)).unwrap();
    }
    let mut lines = common::lines(&path);
    lines[7] = lines[7].replace("event 7", "event 8");
    std::fs::write(&path, lines.concat()).unwrap();
    let (records, report) = read_records(&path).unwrap();
    assert_eq!(records.len(), 12);
    assert_eq!(report.first_break.as_ref().map(|b| b.line), Some(8));
    let page = report_html(&records, &report);
    (dir, page)
}

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&Selector::parse(css).unwrap()).collect()
}

#[test]
fn the_report_is_valid_self_contained_html_with_the_break_in_red() {
    let (_dir, page) = damaged_report();
    let doc = Html::parse_document(&page);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(select(&doc, "html").len(), 1);
    assert_eq!(select(&doc, "head").len(), 1);
    assert_eq!(select(&doc, "body").len(), 1);
    let titles = select(&doc, "head > title");
    assert_eq!(titles.len(), 1);
    assert!(titles[0]
        .text()
        .collect::<String>()
        .starts_with("Axiom audit report"));
    assert_eq!(select(&doc, "head > meta[charset=utf-8]").len(), 1);

    // The summary names the first break, styled as one.
    let summary = select(&doc, "section#summary.bad");
    assert_eq!(summary.len(), 1);
    let brk = select(&doc, "#first-break.break");
    assert_eq!(brk.len(), 1);
    let text: String = brk[0].text().collect();
    assert!(
        text.contains("line 8 (seq 8)") && text.contains("hash"),
        "{text}"
    );
    assert!(page.contains(".break,.torn{color:#a40e26"));

    // The timeline: 12 rows, the 8th broken, the rest after it unverified.
    let rows = select(&doc, "#timeline tbody tr");
    assert_eq!(rows.len(), 12);
    let classes: Vec<Option<&str>> = rows.iter().map(|r| r.value().attr("class")).collect();
    assert!(classes[..7].iter().all(Option::is_none), "{classes:?}");
    assert_eq!(classes[7], Some("broken"));
    assert!(
        classes[8..].iter().all(|c| *c == Some("unverified")),
        "{classes:?}"
    );
    assert_eq!(select(&doc, "tr#broken-record").len(), 1);

    // Models and certificates.
    let models = select(&doc, "#models h3");
    assert_eq!(models.len(), 3, "three model digests");
    // Latest verdicts taken from records 8.. are flagged; the others not.
    let td = Selector::parse("td").unwrap();
    let model_rows = select(&doc, "#models tbody tr");
    for row in &model_rows {
        let cells: Vec<String> = row.select(&td).map(|c| c.text().collect()).collect();
        let seq: u64 = cells[4].parse().unwrap();
        assert_eq!(cells[2].contains("(from"), seq >= 8, "{cells:?}");
    }
    assert!(model_rows.len() > 3);
    let certs = select(&doc, "#certificates tbody tr");
    assert!(!certs.is_empty());
    let signer: String = certs[0].text().collect();
    assert!(signer.contains(&common::key_a().public().id()), "{signer}");

    // Self-contained: no scripts, nothing fetched.
    let lower = page.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "a script element");
    assert!(!lower.contains("<img") && !lower.contains("<link") && !lower.contains("url("));
    for el in select(&doc, "[src], [href]") {
        for attr in ["src", "href"] {
            if let Some(v) = el.value().attr(attr) {
                assert!(
                    !v.starts_with("http://") && !v.starts_with("https://"),
                    "{v}"
                );
            }
        }
    }
    assert!(select(&doc, "script, img, link, iframe, object").is_empty());
}

#[test]
fn strings_from_the_log_are_escaped() {
    let (_dir, page) = damaged_report();
    assert!(
        page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;")
    );
    assert!(page.contains("&lt;b&gt;model&lt;/b&gt;.onnx"));
    // What a browser shows is exactly the detail as logged.
    let doc = Html::parse_document(&page);
    let cells: Vec<String> = select(&doc, "#timeline td")
        .iter()
        .map(|td| td.text().collect())
        .collect();
    assert!(
        cells.iter().any(|c| c == &format!("exit 3{INJECTED}")),
        "{cells:?}"
    );
}

#[test]
fn the_report_is_deterministic() {
    let (_dir, path, _) = common::log(4, Some(&common::key_a()));
    let (records, report) = read_records(&path).unwrap();
    let page = report_html(&records, &report);
    assert_eq!(page, report_html(&records, &report));
    let (records, report) = read_records(&path).unwrap();
    assert_eq!(page, report_html(&records, &report));
    assert!(page.contains("class=\"ok\">OK</span>: 4 records verified"));
}

fn find_browser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

#[test]
fn a_browser_renders_the_report() {
    let Some(browser) = find_browser() else {
        println!("skipped: no chromium on PATH");
        return;
    };
    let (dir, page) = damaged_report();
    let html = dir.path().join("report.html");
    std::fs::write(&html, &page).unwrap();
    let shot = dir.path().join("shot.png");
    let out = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,900")
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        shot_is_real(&shot),
        "no screenshot from {}:\n{}",
        browser.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn shot_is_real(shot: &Path) -> bool {
    match std::fs::read(shot) {
        Ok(bytes) => bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10 * 1024,
        Err(_) => false,
    }
}
