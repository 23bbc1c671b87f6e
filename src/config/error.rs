//! Config diagnostics: every problem found in a file, rendered by miette with file:line:column.

use std::fmt;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode,
    SourceSpan,
};

/// The width diagnostics are wrapped at; fixed so output (and the test snapshots) is stable.
pub const RENDER_WIDTH: usize = 100;

/// At most this many problems are rendered: miette locates each span from the start of the
/// file, so rendering thousands of problems would take minutes. All stay in `problems()`.
pub const MAX_RENDERED: usize = 50;

/// What class of mistake a [`Problem`] is (for tests and tools; not shown to users).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The file is not valid KDL 2.0.
    Syntax,
    /// The file has no nodes at all, or no `instance`.
    Empty,
    /// A node name the language does not know (or not in this block).
    UnknownNode,
    /// A property name the node does not know.
    UnknownProperty,
    /// A required node is absent.
    Missing,
    /// Too many or too few values, a children block where none belongs, and similar.
    Shape,
    /// A value of the wrong KDL type (string where a number belongs, ...).
    WrongType,
    /// A number or duration outside its allowed range.
    OutOfRange,
    /// A string that does not parse as what it should be (address, duration, keyword).
    BadValue,
    /// A node that may appear once appears again, or a repeated name.
    Duplicate,
    /// A reference to a script or instance that is not defined.
    Undefined,
    /// Settings that are each fine but not together.
    Conflict,
    /// The file is in another program's format (a keepalived.conf).
    Foreign,
}

/// One problem in a config file: a message, labelled spans and a help line.
#[derive(Clone, Debug)]
pub struct Problem {
    /// The class of mistake.
    pub kind: ProblemKind,
    /// The one-line message (`vrid 0 is out of range`).
    pub message: String,
    /// Labelled spans; the first is the primary one.
    pub labels: Vec<(SourceSpan, String)>,
    /// What would be valid.
    pub help: Option<String>,
}

impl Problem {
    /// A problem with one labelled span.
    pub fn new(
        kind: ProblemKind,
        message: impl Into<String>,
        span: SourceSpan,
        label: impl Into<String>,
    ) -> Self {
        Problem {
            kind,
            message: message.into(),
            labels: vec![(span, label.into())],
            help: None,
        }
    }

    /// Adds a help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a secondary labelled span.
    pub fn also(mut self, span: SourceSpan, label: impl Into<String>) -> Self {
        self.labels.push((span, label.into()));
        self
    }

    /// The primary span (where the problem is).
    pub fn span(&self) -> Option<SourceSpan> {
        self.labels.first().map(|(s, _)| *s)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().enumerate().map(
            |(i, (span, label))| {
                if i == 0 {
                    LabeledSpan::new_primary_with_span(Some(label.clone()), *span)
                } else {
                    LabeledSpan::new_with_span(Some(label.clone()), *span)
                }
            },
        )))
    }
}

/// An invalid configuration: the source and every problem found in it.
#[derive(Debug)]
pub struct ConfigError {
    source: NamedSource<Arc<String>>,
    file_name: String,
    problems: Vec<Problem>,
    /// "N more errors not shown", when there are more than [`MAX_RENDERED`].
    overflow: Option<Box<Problem>>,
}

impl ConfigError {
    /// Builds the error; `problems` must not be empty.
    pub(crate) fn new(file_name: &str, source: &str, problems: Vec<Problem>) -> Self {
        ConfigError {
            source: NamedSource::new(file_name, Arc::new(source.to_string())),
            file_name: file_name.to_string(),
            overflow: (problems.len() > MAX_RENDERED).then(|| {
                Box::new(Problem {
                    kind: ProblemKind::Syntax,
                    message: format!(
                        "... and {} more errors not shown",
                        problems.len() - MAX_RENDERED
                    ),
                    labels: Vec::new(),
                    help: Some("fix the errors above first".to_string()),
                })
            }),
            problems,
        }
    }

    /// Every problem found, in file order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The file name shown in diagnostics.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Renders all problems for a human: colours only when stderr is a terminal and
    /// `NO_COLOR` (https://no-color.org) is unset or empty.
    pub fn render(&self) -> String {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        self.render_with(std::io::stderr().is_terminal() && !no_color)
    }

    /// Renders all problems without colours (stable output, used by the snapshot tests).
    pub fn render_plain(&self) -> String {
        self.render_with(false)
    }

    /// Renders all problems, with or without ANSI colours, wrapped at [`RENDER_WIDTH`].
    /// A problem on a line longer than [`LONG_LINE`] bytes is shown with a clipped
    /// excerpt instead of the whole line (miette would echo the line whole, and panics
    /// past column 65 535).
    pub fn render_with(&self, colour: bool) -> String {
        if self.has_long_lines() {
            return self.render_clipped();
        }
        let handler = report_handler(colour);
        let mut out = String::new();
        if handler.render_report(&mut out, self).is_err() {
            // Rendering into a String only fails on a broken Display impl; fall back to plain text.
            out = self.to_string();
            for p in &self.problems {
                out.push_str(&format!("\n  {p}"));
            }
        }
        out
    }
}

/// Lines longer than this are not shown whole in a diagnostic.
pub const LONG_LINE: usize = 500;

/// How many bytes of a long line a clipped excerpt shows on each side of the span.
const EXCERPT: usize = 40;

impl ConfigError {
    fn text(&self) -> &str {
        self.source.inner().as_str()
    }

    /// The line around `offset`: (its start, its end).
    fn line_bounds(&self, offset: usize) -> (usize, usize) {
        let text = self.text();
        let offset = offset.min(text.len());
        let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        (start, end)
    }

    fn has_long_lines(&self) -> bool {
        self.problems.iter().take(MAX_RENDERED).any(|p| {
            p.labels.iter().any(|(span, _)| {
                let (start, end) = self.line_bounds(span.offset());
                end - start > LONG_LINE || span.len() > LONG_LINE
            })
        })
    }

    /// `FILE:LINE:COL: message`, a clipped excerpt with the span marked, and the help.
    fn render_clipped(&self) -> String {
        let text = self.text();
        let mut out = format!("  × {self}\n");
        for p in self.problems.iter().take(MAX_RENDERED) {
            out.push_str(&format!("\nError:\n  × {}\n", p.message));
            for (span, label) in &p.labels {
                let offset = span.offset().min(text.len());
                let (start, end) = self.line_bounds(offset);
                let line = text[..offset].matches('\n').count() + 1;
                let col = text[start..offset].chars().count() + 1;
                let floor = |mut i: usize| {
                    while !text.is_char_boundary(i) {
                        i -= 1;
                    }
                    i
                };
                let from = floor(offset.saturating_sub(EXCERPT).max(start));
                let to = floor((offset + span.len().min(EXCERPT) + EXCERPT).min(end));
                let excerpt: String = text[from..to]
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                let before = if from > start { "…" } else { "" };
                let after = if to < end { "…" } else { "" };
                out.push_str(&format!(
                    "   ╭─[{}:{line}:{col}]\n   │ {before}{excerpt}{after}\n   ╰── {label}\n",
                    self.file_name
                ));
            }
            if let Some(help) = &p.help {
                out.push_str(&format!("  help: {help}\n"));
            }
        }
        if let Some(o) = &self.overflow {
            out.push_str(&format!("\n  × {}\n", o.message));
        }
        out
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        let plural = if n == 1 { "" } else { "s" };
        write!(
            f,
            "{}: invalid configuration, {n} error{plural}",
            self.file_name
        )
    }
}

impl std::error::Error for ConfigError {}

impl Diagnostic for ConfigError {
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(
            self.problems
                .iter()
                .take(MAX_RENDERED)
                .chain(self.overflow.as_deref())
                .map(|p| p as &dyn Diagnostic),
        ))
    }
}

/// Why [`crate::config::load`] failed: the file could not be read, or it is not a valid config.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum LoadError {
    /// The file could not be read (missing, permissions, a directory, ...).
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The path that was tried.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid configuration.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(#[from] ConfigError),
}

/// The miette renderer of every vrrp-ha diagnostic: unicode, ANSI colours when `colour`,
/// no hyperlinks (a terminal or a journal shows them as noise), wrapped at [`RENDER_WIDTH`].
pub fn report_handler(colour: bool) -> GraphicalReportHandler {
    let theme = if colour {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_urls(false)
        .with_width(RENDER_WIDTH)
}
