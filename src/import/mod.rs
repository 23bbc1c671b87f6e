//! `vrrp-ha import`: reads a keepalived configuration the way keepalived 2.2.7 reads it and
//! translates its VRRP side into vrrp-ha's KDL.
//!
//! Three stages, one module each: [`reader`] turns files into lines of words as keepalived's
//! `read_line()` does (includes, comments, `@config-id` lines, `$VAR` definitions, braces
//! split off), [`parser`] walks them with keepalived's keyword tables (its `process_stream()`
//! and `alloc_value_block()`, tolerated mistakes included) into a model, and [`emit`] writes
//! that model as KDL and proves it passes [`crate::config::parse_str`]. Everything not
//! translated, or translated with a caveat, is a [`Diag`] at its source line.

mod emit;
mod parser;
mod reader;
mod script;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource};

pub use emit::OutFile;

/// How bad a diagnostic is; decides the exit code of `vrrp-ha import`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Translated, with a difference worth knowing (exit 0).
    Note,
    /// Not translated, or translated differently from what keepalived does (exit 1).
    Warning,
    /// The input cannot be read or parsed at all (exit 2, nothing written).
    Fatal,
}

/// Where a diagnostic points: a byte range of one source file.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Src {
    /// Index into [`Import::files`].
    pub file: usize,
    /// Byte offset of the span.
    pub start: usize,
    /// Byte length of the span.
    pub len: usize,
    /// 1-based line number.
    pub line: usize,
}

/// One finding of the import, at its source line.
#[derive(Clone, Debug)]
pub struct Diag {
    /// Severity.
    pub level: Level,
    /// The one-line message.
    pub message: String,
    /// What to do instead.
    pub help: Option<String>,
    /// The label under the span.
    pub label: String,
    pub(crate) src: Option<Src>,
}

impl Diag {
    pub(crate) fn new(level: Level, src: Option<Src>, message: impl Into<String>) -> Self {
        Diag {
            level,
            message: message.into(),
            help: None,
            label: match level {
                Level::Note => "translated with a caveat".to_string(),
                Level::Warning => "not translated as keepalived reads it".to_string(),
                Level::Fatal => "cannot be read".to_string(),
            },
            src,
        }
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }
}

/// A source file that was read (the main file and every include).
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path as shown in diagnostics and comments.
    pub name: String,
    /// Its text.
    pub text: String,
}

impl SourceFile {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

/// What `import` is asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    /// keepalived's config id for `@name` lines (its `-i`); `None` matches no `@name` line.
    pub config_id: Option<String>,
    /// One output file per sync group or free instance.
    pub split: bool,
    /// Read `include` files (off for fuzzing, where the input must not reach the disk).
    pub includes: bool,
}

/// The result of an import: the output files, the diagnostics and the sources they point at.
#[derive(Debug)]
pub struct Import {
    /// Every file read, the main file first.
    pub files: Vec<SourceFile>,
    /// Findings in the order they were made.
    pub diags: Vec<Diag>,
    /// The KDL files (empty when a fatal diagnostic stopped the import).
    pub outputs: Vec<OutFile>,
}

impl Import {
    /// The exit code `vrrp-ha import` answers with: 0 all translated, 1 something left
    /// out or changed, 2 unreadable.
    pub fn exit_code(&self) -> u8 {
        match self.diags.iter().map(|d| d.level).max() {
            Some(Level::Fatal) => 2,
            Some(Level::Warning) => 1,
            _ => 0,
        }
    }

    /// Renders every diagnostic with miette, plain (no colours), wrapped at 100 columns.
    pub fn render_plain(&self) -> String {
        self.render_with(false)
    }

    /// Renders every diagnostic, with ANSI colours when `colour`.
    pub fn render_with(&self, colour: bool) -> String {
        let handler = crate::config::report_handler(colour);
        let mut out = String::new();
        for d in &self.diags {
            let shown = Shown::new(d, &self.files);
            let mut one = String::new();
            if handler.render_report(&mut one, &shown).is_err() {
                one = format!("{}: {}\n", shown.location(), d.message);
            }
            out.push_str(&one);
        }
        let (w, n) = (
            self.diags
                .iter()
                .filter(|d| d.level == Level::Warning)
                .count(),
            self.diags.iter().filter(|d| d.level == Level::Note).count(),
        );
        if self.exit_code() < 2 {
            out.push_str(&format!(
                "import: {} not translated as keepalived reads it, {} translated with a caveat\n",
                plural(w, "thing"),
                plural(n, "thing"),
            ));
        }
        out
    }
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// A diagnostic with its source attached, as miette wants it.
struct Shown {
    level: Level,
    message: String,
    help: Option<String>,
    label: String,
    span: Option<miette::SourceSpan>,
    source: Option<NamedSource<Arc<String>>>,
    loc: String,
}

impl Shown {
    fn new(d: &Diag, files: &[SourceFile]) -> Self {
        let file = d.src.and_then(|s| files.get(s.file).map(|f| (s, f)));
        let loc = match file {
            Some((s, f)) => {
                let (line, col) = f.line_col(s.start);
                format!("{}:{line}:{col}", f.name)
            }
            None => "import".to_string(),
        };
        Shown {
            level: d.level,
            message: d.message.clone(),
            help: d.help.clone(),
            label: d.label.clone(),
            span: file.map(|(s, _)| miette::SourceSpan::new(s.start.into(), s.len)),
            source: file.map(|(_, f)| NamedSource::new(&f.name, Arc::new(f.text.clone()))),
            loc,
        }
    }

    fn location(&self) -> &str {
        &self.loc
    }
}

impl fmt::Debug for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Shown {}

impl Diagnostic for Shown {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.level {
            Level::Note => miette::Severity::Advice,
            Level::Warning => miette::Severity::Warning,
            Level::Fatal => miette::Severity::Error,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        Some(Box::new(std::iter::once(
            LabeledSpan::new_primary_with_span(Some(self.label.clone()), span),
        )))
    }
}

/// Imports the keepalived configuration at `path` (shown in diagnostics as given).
pub fn import_file(path: &Path, opts: &Options) -> Import {
    let mut rd = reader::Reader::new(opts.config_id.clone(), opts.includes);
    let toks = rd.read_main(path);
    finish(rd, toks, opts)
}

/// Imports keepalived configuration text; `name` is the file name shown in diagnostics,
/// and includes are looked up relative to its directory.
pub fn import_str(text: &str, name: &str, opts: &Options) -> Import {
    let mut rd = reader::Reader::new(opts.config_id.clone(), opts.includes);
    let toks = rd.read_text(text, name);
    finish(rd, toks, opts)
}

fn finish(rd: reader::Reader, toks: Vec<reader::Tok>, opts: &Options) -> Import {
    let (files, mut diags) = rd.into_parts();
    if diags.iter().any(|d| d.level == Level::Fatal) {
        return Import {
            files,
            diags,
            outputs: Vec::new(),
        };
    }
    let model = parser::parse(&toks, &mut diags);
    let outputs = emit::emit(&model, &files, opts.split, &mut diags);
    // File order, then line order; findings about the whole input go last.
    diags.sort_by_key(|d| d.src.map_or((usize::MAX, 0), |s| (s.file, s.start)));
    Import {
        files,
        diags,
        outputs,
    }
}

/// keepalived's default config id: the host name up to its first dot.
pub fn short_hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let short = name.trim().split('.').next()?.to_string();
    (!short.is_empty()).then_some(short)
}
