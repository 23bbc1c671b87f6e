//! Before the document is read: what is refused ahead of the KDL parser (too large, nested too
//! deeply), and KDL syntax errors turned into problems with hints.

use kdl::KdlDocument;

use super::Sp;
use crate::config::error::{Problem, ProblemKind as K};
use crate::config::nesting;

/// Larger inputs are refused before parsing: the KDL parser is slow on megabytes of input.
const MAX_SOURCE_LEN: usize = 1 << 20;

/// The KDL document, or the problems that stop before it.
pub(super) fn parse(source: &str) -> Result<KdlDocument, Vec<Problem>> {
    if source.len() > MAX_SOURCE_LEN {
        let problem = Problem::new(
            K::Syntax,
            format!("the file is {} bytes long", source.len()),
            Sp::new(MAX_SOURCE_LEN.into(), 0),
            "the limit is 1 MiB",
        )
        .help("a vrrp-ha configuration is a few kilobytes; is this the right file?");
        return Err(vec![problem]);
    }
    if let Some(span) = nesting::too_deep(source) {
        let problem = Problem::new(
            K::Syntax,
            "blocks or comments are nested too deeply",
            span,
            "too deep",
        )
        .help(format!(
            "configs nest at most 3 blocks (instance > on-master > action); the limit is {}",
            nesting::MAX_DEPTH
        ));
        return Err(vec![problem]);
    }
    KdlDocument::parse_v2(source).map_err(|err| {
        err.diagnostics
            .into_iter()
            .map(|d| syntax_problem(source, d))
            .collect()
    })
}

/// A KDL parse error as a [`Problem`], with a help line for the usual KDL 1 habits.
fn syntax_problem(source: &str, d: kdl::KdlDiagnostic) -> Problem {
    let text = source
        .get(d.span.offset()..d.span.offset() + d.span.len())
        .unwrap_or("");
    let help = match text.trim() {
        "true" | "false" => format!("KDL 2.0 writes booleans with a #: `#{}`", text.trim()),
        "null" => "KDL 2.0 writes null as `#null`".to_string(),
        _ => d.help.unwrap_or_else(|| {
            "the file must be KDL 2.0 (https://kdl.dev): strings in quotes, booleans as #true/#false"
                .to_string()
        }),
    };
    Problem {
        kind: K::Syntax,
        message: d
            .message
            .unwrap_or_else(|| "invalid KDL syntax".to_string()),
        labels: vec![(d.span, d.label.unwrap_or_else(|| "here".to_string()))],
        help: Some(help),
    }
}
