//! The docs keep their promises about each other: every relative link in the project's Markdown
//! files (the README, CONTRIBUTING, `docs/`, the examples' and interop's READMEs) resolves to a
//! file or directory, and a link that names a heading (`page.md#heading`, or `#heading` on the
//! same page) names one that page has.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use mcp_tasks_e2e::root;

/// The Markdown files of the project, outside build output and installed packages.
fn markdown_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && !["target", "node_modules", "build"].contains(&&*name) {
                markdown_files(&path, found);
            }
        } else if name.ends_with(".md") {
            found.push(path);
        }
    }
}

/// The targets of the `[text](target)` links of a Markdown text, outside code blocks and code
/// spans.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Code spans hold no links: drop them.
        let line: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, part)| part)
            .collect();
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            found.push(target.to_string());
            rest = &rest[end..];
        }
    }
    found
}

/// The anchors GitHub makes of a page's headings: lower case, punctuation dropped, spaces as
/// hyphens.
fn anchors(text: &str) -> HashSet<String> {
    let mut fenced = false;
    let mut found = HashSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let heading = line.trim_start_matches('#').trim();
        let slug: String = heading
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        found.insert(slug);
    }
    found
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut files = Vec::new();
    markdown_files(&root(), &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("docs/architecture.md")),
        "{files:?}"
    );
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") || link.is_empty() {
                continue;
            }
            checked += 1;
            let (path, anchor) = match link.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (link.as_str(), None),
            };
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let shown = file.strip_prefix(root()).unwrap().display();
            if !target.exists() {
                broken.push(format!("{shown}: {link}: no such file"));
                continue;
            }
            if let Some(anchor) = anchor
                && target.extension().is_some_and(|e| e == "md")
                && !anchors(&std::fs::read_to_string(&target).unwrap()).contains(anchor)
            {
                broken.push(format!("{shown}: {link}: no such heading"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked >= 20, "only {checked} relative links were found");
}

#[test]
fn the_link_reader_finds_links_and_headings() {
    let text =
        "See [a](docs/a.md#the-b) and `[not](a link)`.\n```\n[nor](this)\n```\n# The `B`, too!\n";
    assert_eq!(links(text), ["docs/a.md#the-b"]);
    assert!(anchors(text).contains("the-b-too"), "{:?}", anchors(text));
}

/// Every tools file the docs show (each ```toml block of a Markdown page that holds `[[tools]]` or
/// `[server]`, and the reference
/// `docs/tools-file.toml`) is one the binary takes: `serve --tools` starts with it and, at the end
/// of its input, ends cleanly.
#[test]
fn every_tools_file_the_docs_show_is_taken_by_the_binary() {
    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    let mut files = Vec::new();
    markdown_files(&root(), &mut files);
    let mut shown = vec![(
        "docs/tools-file.toml".to_string(),
        std::fs::read_to_string(root().join("docs/tools-file.toml")).unwrap(),
    )];
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("```toml\n") {
            rest = &rest[at + "```toml\n".len()..];
            let end = rest.find("```").expect("a closed toml block");
            let name = file.strip_prefix(root()).unwrap().display().to_string();
            let toml = &rest[..end];
            // A tools file, not another file in TOML (a tokens file).
            if toml.contains("[[tools]]") || toml.contains("[server]") {
                shown.push((name, toml.to_string()));
            }
            rest = &rest[end..];
        }
    }
    assert!(shown.len() >= 4, "{} tools files", shown.len());
    for (n, (from, toml)) in shown.iter().enumerate() {
        let path = dir.path().join(format!("tools-{n}.toml"));
        std::fs::write(&path, toml).unwrap();
        let out = std::process::Command::new(mcp_tasks_e2e::binary())
            .args(["serve", "--tools"])
            .arg(&path)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "a tools file of {from} is refused: {}\n{toml}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The `mcp-tasks serve --store …` lines of `docs/stores.md` run as written (with this build's
/// binary), each store opening and, at the end of its input, ending cleanly.
#[test]
fn the_documented_stores_open() {
    let doc = std::fs::read_to_string(root().join("docs/stores.md")).unwrap();
    let dir = mcp_tasks_e2e::tempdir::Dir::new();
    let binary = mcp_tasks_e2e::binary().display().to_string();
    let lines: Vec<&str> = doc
        .lines()
        .filter(|line| line.starts_with("mcp-tasks serve --store "))
        .collect();
    assert!(lines.len() >= 3, "{lines:?}");
    for line in lines {
        let command = line.replacen("mcp-tasks", &binary, 1);
        let out = std::process::Command::new("bash")
            .args(["-c", &command])
            .current_dir(dir.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
