//! keepalived's lexical layer (`read_line()` in keepalived's lib/parser.c, 2.2.7): physical
//! lines become logical lines of words, with comments removed, `@config-id` lines kept or
//! dropped, `$NAME=value` definitions stored and `$NAME` / `${NAME}` substituted, `include`
//! files read in place, and every unquoted `{` and `}` split off as a line of its own.

use std::path::{Path, PathBuf};

use super::{Diag, Level, SourceFile, Src};

/// keepalived reads lines with `fgets()` into a buffer of this size (`MAXBUF`).
const MAXBUF: usize = 1024;
/// Includes nested deeper than this are a loop (keepalived itself would never stop).
const MAX_INCLUDE_DEPTH: usize = 16;
/// Source files over this size are refused: a keepalived.conf is a few kilobytes.
const MAX_FILE_LEN: usize = 1 << 20;
/// At most this many substitutions in one line: `$A=$A` would never end (keepalived
/// itself loops forever on it).
const MAX_SUBSTITUTIONS: usize = 256;
/// At most this many files are read in total (includes of includes...).
const MAX_FILES: usize = 256;
/// keepalived's `WHITE_SPACE_STR`.
const WHITE: &[char] = &[' ', '\t', '\x0c', '\n', '\r', '\x0b'];

/// One word of a line, with where it came from.
#[derive(Clone, Debug)]
pub struct Word {
    /// The word, quotes removed.
    pub text: String,
    /// Its span (the whole line when it came out of a substitution).
    pub src: Src,
}

/// One logical line of words.
#[derive(Clone, Debug)]
pub struct Line {
    /// The words, as keepalived's `alloc_strvec()` splits them.
    pub words: Vec<Word>,
    /// The line's text before splitting (keepalived's `buf_extern`, which script and
    /// notify keywords split again with their own quoting rules).
    pub raw: String,
    /// The whole line.
    pub src: Src,
}

impl Line {
    /// The first word (the keyword).
    pub fn kw(&self) -> &str {
        self.words.first().map_or("", |w| w.text.as_str())
    }

    /// Word `i`'s text.
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.words.get(i).map(|w| w.text.as_str())
    }

    /// Word `i`'s span, or the line's.
    pub fn at(&self, i: usize) -> Src {
        self.words.get(i).map_or(self.src, |w| w.src)
    }
}

/// What the parser consumes.
#[derive(Clone, Debug)]
pub enum Tok {
    /// `{`
    Open(Src),
    /// `}`
    Close(Src),
    /// Any other line.
    Line(Line),
}

struct Def {
    name: String,
    /// The value's lines; more than one for a multi-line definition.
    lines: Vec<String>,
    multiline: bool,
    builtin: Option<Builtin>,
}

#[derive(Copy, Clone, PartialEq, Eq)]
enum Builtin {
    Pwd,
    Instance,
    Random,
}

/// Where a logical line came from: its file and physical line.
#[derive(Copy, Clone)]
struct Origin {
    file: usize,
    /// Byte offset of the physical line in the file.
    start: usize,
    /// Its length.
    len: usize,
    line: usize,
    /// False once a substitution changed the text: word spans are then the whole line.
    verbatim: bool,
}

impl Origin {
    fn src(&self) -> Src {
        Src {
            file: self.file,
            start: self.start,
            len: self.len,
            line: self.line,
        }
    }
}

/// Reads keepalived configuration files into [`Tok`]s, collecting diagnostics.
pub struct Reader {
    files: Vec<SourceFile>,
    diags: Vec<Diag>,
    config_id: Option<String>,
    defs: Vec<Def>,
    /// The definition that continues on the next line (its value ended in `\`).
    open_def: Option<usize>,
    toks: Vec<Tok>,
    depth: usize,
    /// Absolute directory of the file being read (keepalived's cwd while reading it).
    dirs: Vec<PathBuf>,
    /// Directory of the file being read, as shown (for relative include patterns).
    shown_dirs: Vec<String>,
    fatal: bool,
    includes: bool,
}

impl Reader {
    /// A reader with keepalived's standard definitions.
    pub fn new(config_id: Option<String>, includes: bool) -> Self {
        let builtin = |name: &str, value: Option<&str>, b: Option<Builtin>| Def {
            name: name.to_string(),
            lines: vec![value.unwrap_or("").to_string()],
            multiline: false,
            builtin: b,
        };
        Reader {
            files: Vec::new(),
            diags: Vec::new(),
            config_id,
            defs: vec![
                builtin("_PWD", None, Some(Builtin::Pwd)),
                builtin("_INSTANCE", None, Some(Builtin::Instance)),
                builtin("_RANDOM", None, Some(Builtin::Random)),
                builtin("_HASH", Some("#"), None),
                builtin("_BANG", Some("!"), None),
            ],
            open_def: None,
            toks: Vec::new(),
            depth: 0,
            dirs: Vec::new(),
            shown_dirs: Vec::new(),
            fatal: false,
            includes,
        }
    }

    /// The files read and the diagnostics made.
    pub fn into_parts(self) -> (Vec<SourceFile>, Vec<Diag>) {
        (self.files, self.diags)
    }

    fn diag(&mut self, d: Diag) {
        if d.level == Level::Fatal {
            self.fatal = true;
        }
        self.diags.push(d);
    }

    /// Reads the main file and everything it includes.
    pub fn read_main(&mut self, path: &Path) -> Vec<Tok> {
        let shown = path.display().to_string();
        match read_source(path) {
            Ok(text) => self.read_text(&text, &shown),
            Err(e) => {
                self.diag(
                    Diag::new(Level::Fatal, None, format!("cannot read {shown}: {e}"))
                        .help("give the path of keepalived's configuration, usually /etc/keepalived/keepalived.conf"),
                );
                Vec::new()
            }
        }
    }

    /// Reads `text` as the main file named `name`.
    pub fn read_text(&mut self, text: &str, name: &str) -> Vec<Tok> {
        let path = Path::new(name);
        self.push_file(path, name.to_string(), text.to_string());
        std::mem::take(&mut self.toks)
    }

    fn push_file(&mut self, path: &Path, shown: String, text: String) {
        let id = self.files.len();
        self.files.push(SourceFile {
            name: shown.clone(),
            text,
        });
        let dir = path.parent().unwrap_or(Path::new(""));
        let abs = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|c| c.join(dir))
                .unwrap_or_else(|_| dir.to_path_buf())
        };
        let shown_dir = Path::new(&shown)
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        self.dirs.push(abs);
        self.shown_dirs.push(shown_dir);
        self.depth += 1;
        self.read_lines(id);
        self.depth -= 1;
        self.dirs.pop();
        self.shown_dirs.pop();
    }

    fn read_lines(&mut self, file: usize) {
        let text = self.files[file].text.clone();
        let mut start = 0;
        let mut line_no = 0;
        while start < text.len() && !self.fatal {
            let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
            line_no += 1;
            let mut physical = &text[start..end];
            while let Some(p) = physical.strip_suffix('\r') {
                physical = p;
            }
            let origin = Origin {
                file,
                start,
                len: physical.len(),
                line: line_no,
                verbatim: true,
            };
            if physical.len() >= MAXBUF - 1 {
                self.diag(
                    Diag::new(
                        Level::Fatal,
                        Some(origin.src()),
                        format!(
                            "line is {} bytes long; keepalived reads at most {} bytes a line",
                            physical.len(),
                            MAXBUF - 2
                        ),
                    )
                    .label("too long")
                    .help("keepalived would cut this line in two; split it into shorter lines"),
                );
                return;
            }
            self.physical_line(physical, origin);
            start = end + 1;
        }
        // A definition continued past the end of the file just ends there.
        self.open_def = None;
    }

    fn physical_line(&mut self, physical: &str, origin: Origin) {
        if physical.is_empty() {
            // An empty line ends a multi-line definition (keepalived checks this before
            // removing comments, so a comment line does not).
            self.open_def = None;
            return;
        }
        let Some(buf) = self.decomment(physical, origin) else {
            return;
        };
        if buf.is_empty() {
            return;
        }
        if let Some(d) = self.open_def {
            let mut text = buf.as_str();
            let more = text.ends_with('\\');
            if more {
                text = text[..text.len() - 1].trim_end_matches([' ', '\t']);
            } else {
                self.open_def = None;
            }
            if !text.is_empty() {
                self.defs[d].lines.push(text.to_string());
            }
            return;
        }
        self.logical(buf, origin);
    }

    /// keepalived's `decomment()`: strips leading blanks, `#` and `!` comments outside
    /// double quotes, the backslash of `\#` and `\!`, and trailing blanks; a trailing `\`
    /// is kept (it continues a definition).
    fn decomment(&mut self, text: &str, origin: Origin) -> Option<String> {
        let s = text.trim_start_matches([' ', '\t']);
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut quote = false;
        let mut cont = false;
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    quote = !quote;
                    out.push(b'"');
                    i += 1;
                }
                b'\\' => {
                    if i + 1 < b.len() {
                        if !quote && (b[i + 1] == b'#' || b[i + 1] == b'!') {
                            out.push(b[i + 1]);
                        } else {
                            out.push(b'\\');
                            out.push(b[i + 1]);
                        }
                        i += 2;
                    } else {
                        cont = true;
                        i += 1;
                    }
                }
                b'#' | b'!' if !quote => break,
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        if quote {
            let at = text.find('"').unwrap_or(0);
            self.diag(
                Diag::new(
                    Level::Fatal,
                    Some(Src {
                        start: origin.start + at,
                        len: 1,
                        ..origin.src()
                    }),
                    "unterminated quoted string",
                )
                .label("this quote is never closed")
                .help("close the string with a `\"` on the same line"),
            );
            return None;
        }
        // Only whole ASCII bytes were removed, so this stays UTF-8.
        let mut s = String::from_utf8(out).unwrap_or_default();
        let trimmed = s.trim_end_matches([' ', '\t']).len();
        s.truncate(trimmed);
        if cont {
            s.push('\\');
        }
        Some(s)
    }

    /// One logical line: config id, definitions, substitution, include, braces.
    fn logical(&mut self, mut buf: String, mut origin: Origin) {
        let mut extra: Vec<String> = Vec::new();
        loop {
            if buf.is_empty() {
                return;
            }
            let mut recheck = false;
            if let Some(rest) = buf.strip_prefix('@') {
                let (rev, rest) = match rest.strip_prefix('^') {
                    Some(r) => (true, r),
                    None => (false, rest),
                };
                // Something must follow the id, or keepalived drops the line.
                let Some(sp) = rest.find([' ', '\t']) else {
                    return;
                };
                let id = &rest[..sp];
                let matches = self.config_id.as_deref() == Some(id);
                if matches == rev {
                    return;
                }
                buf = rest[sp..].trim_start_matches([' ', '\t']).to_string();
                if buf.is_empty() {
                    return;
                }
            }
            if buf.starts_with('$') && self.definition(&buf) {
                return;
            }
            if buf.starts_with("~SEQ") || buf.starts_with("~LST") {
                self.diag(
                    Diag::new(
                        Level::Warning,
                        Some(origin.src()),
                        format!("`{}` is not expanded by import", &buf[..4]),
                    )
                    .help("write out the lines it generates, or generate them with a script"),
                );
                return;
            }
            if buf.starts_with('~') {
                break;
            }
            if buf.contains('$') {
                match self.substitute(&buf, origin) {
                    Subst::None => break,
                    Subst::Done(text, more) => {
                        origin.verbatim = false;
                        extra.splice(0..0, more);
                        let Some(text) = self.decomment(&text, origin) else {
                            return;
                        };
                        buf = text;
                        recheck = buf.starts_with('@') || buf.contains('$');
                    }
                }
            }
            if !recheck {
                break;
            }
        }
        if self.include(&buf, origin) {
        } else {
            self.braces(buf, origin);
        }
        for line in extra {
            if self.fatal {
                return;
            }
            self.logical(line, origin);
        }
    }

    /// `$NAME=value` (keepalived's `check_definition()`); true when it was one.
    fn definition(&mut self, buf: &str) -> bool {
        let b = buf.as_bytes();
        if b.len() < 2 || !(b[1].is_ascii_alphabetic() || b[1] == b'_') {
            return false;
        }
        let mut p = 2;
        while p < b.len() && b[p] != b'=' {
            if !(b[p].is_ascii_alphanumeric() || b[p] == b'_') {
                break;
            }
            p += 1;
        }
        let name = &buf[1..p];
        let mut q = p;
        while q < b.len() && (b[q] == b' ' || b[q] == b'\t') {
            q += 1;
        }
        if q >= b.len() || b[q] != b'=' {
            return false;
        }
        let value = buf[q + 1..].trim_start_matches([' ', '\t']);
        let (value, multiline) = match value.strip_suffix('\\') {
            Some(v) => (v.trim_end_matches([' ', '\t']), true),
            None => (value, false),
        };
        let def = Def {
            name: name.to_string(),
            lines: vec![value.to_string()],
            multiline,
            builtin: None,
        };
        let idx = match self.defs.iter().position(|d| d.name == name) {
            Some(i) => {
                self.defs[i] = def;
                i
            }
            None => {
                self.defs.push(def);
                self.defs.len() - 1
            }
        };
        self.open_def = multiline.then_some(idx);
        true
    }

    /// keepalived's `replace_param()`: every `$NAME` / `${NAME}` that names a definition is
    /// replaced, and the replacement is scanned again (so values may use other names).
    fn substitute(&mut self, buf: &str, origin: Origin) -> Subst {
        let mut s = buf.to_string();
        let mut more: Vec<String> = Vec::new();
        let mut pos = 0;
        let mut found = false;
        let mut count = 0;
        while let Some(off) = s[pos..].find('$') {
            let at = pos + off;
            if at + 1 >= s.len() {
                break;
            }
            let Some((def_idx, ref_len, params)) = self.find_ref(&s[at + 1..]) else {
                pos = at + 1;
                continue;
            };
            found = true;
            count += 1;
            if count > MAX_SUBSTITUTIONS {
                self.diag(
                    Diag::new(
                        Level::Fatal,
                        Some(origin.src()),
                        format!("more than {MAX_SUBSTITUTIONS} substitutions in one line"),
                    )
                    .label("never ends")
                    .help("a definition that refers to itself ($A=$A) never ends; keepalived hangs on it"),
                );
                return Subst::None;
            }
            let def = &self.defs[def_idx];
            let value = match def.builtin {
                Some(Builtin::Pwd) => self
                    .dirs
                    .last()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default(),
                Some(Builtin::Instance) => self.config_id.clone().unwrap_or_default(),
                Some(Builtin::Random) => {
                    let low = params
                        .as_deref()
                        .and_then(|p| p.split_whitespace().next())
                        .unwrap_or("0")
                        .to_string();
                    self.diags.push(
                        Diag::new(
                            Level::Warning,
                            Some(origin.src()),
                            format!("`$_RANDOM` is replaced by its lowest value, {low}"),
                        )
                        .help("keepalived picks a random number at each start; write the value you want"),
                    );
                    low
                }
                None => def.lines[0].clone(),
            };
            if def.multiline {
                more = def.lines[1..].to_vec();
            }
            let stop = value.trim_start_matches([' ', '\t']).starts_with('~');
            s.replace_range(at..at + 1 + ref_len, &value);
            if s.len() >= MAXBUF {
                self.diag(
                    Diag::new(
                        Level::Fatal,
                        Some(origin.src()),
                        "substitution makes the line longer than keepalived's 1023 bytes",
                    )
                    .label("expands too far")
                    .help(
                        "a definition that refers to itself never ends; check the $NAME=... lines",
                    ),
                );
                return Subst::None;
            }
            pos = at;
            if stop {
                break;
            }
        }
        if found {
            Subst::Done(s, more)
        } else {
            Subst::None
        }
    }

    /// keepalived's `find_definition()` for a reference: `after` follows the `$`. Returns the
    /// definition, the length of the reference after the `$`, and `${_RANDOM a b}`'s parameters.
    fn find_ref(&self, after: &str) -> Option<(usize, usize, Option<String>)> {
        let b = after.as_bytes();
        let braces = b.first() == Some(&b'{');
        let n0 = usize::from(braces);
        if n0 >= b.len() || !(b[n0].is_ascii_alphabetic() || b[n0] == b'_') {
            return None;
        }
        let mut p = n0 + 1;
        while p < b.len() && (b[p].is_ascii_alphanumeric() || b[p] == b'_') {
            p += 1;
        }
        let name = &after[n0..p];
        let mut params = None;
        let ref_len;
        if braces {
            let pstart = p;
            while p < b.len() && (b[p] == b' ' || b[p].is_ascii_digit()) {
                p += 1;
            }
            let inner = &after[pstart..p];
            if !inner.is_empty() {
                if inner.ends_with(' ') || !inner.trim().chars().any(|c| c.is_ascii_digit()) {
                    return None;
                }
                params = Some(inner.trim().to_string());
            }
            if p >= b.len() || b[p] != b'}' {
                return None;
            }
            ref_len = p + 1;
        } else {
            if p < b.len() && !matches!(b[p], b' ' | b'\t' | b',' | b')') {
                return None;
            }
            ref_len = p;
        }
        let at_end = ref_len == after.len();
        let idx = self
            .defs
            .iter()
            .position(|d| d.name == name && (at_end || !d.multiline))?;
        if params.is_some() && self.defs[idx].builtin != Some(Builtin::Random) {
            return None;
        }
        Some((idx, ref_len, params))
    }

    /// `include PATTERN` (and keepalived's includer/includem/... variants): reads every
    /// file the glob matches, relative to the including file's directory. True when the
    /// line was an include.
    fn include(&mut self, buf: &str, origin: Origin) -> bool {
        let b = buf.as_bytes();
        if !buf.starts_with("include") || b.len() < 8 {
            return false;
        }
        let rest = if b[7].is_ascii_whitespace() {
            &buf[8..]
        } else if b.len() > 8 && b[8].is_ascii_whitespace() && b"rmwba".contains(&b[7]) {
            &buf[9..]
        } else {
            return false;
        };
        let pattern = rest.trim_start_matches([' ', '\t']);
        let src = origin.src();
        if !self.includes {
            self.diag(
                Diag::new(
                    Level::Warning,
                    Some(src),
                    format!("`include {pattern}` not read"),
                )
                .help("includes are off for this import"),
            );
            return true;
        }
        if self.depth > MAX_INCLUDE_DEPTH {
            self.diag(
                Diag::new(
                    Level::Fatal,
                    Some(src),
                    format!("includes nested more than {MAX_INCLUDE_DEPTH} deep"),
                )
                .label("includes itself?")
                .help("a file that includes itself (or a cycle of files) never ends"),
            );
            return true;
        }
        let shown_dir = self.shown_dirs.last().cloned().unwrap_or_default();
        let abs_dir = self.dirs.last().cloned().unwrap_or_default();
        let mut matched = 0;
        for alt in expand_braces(pattern) {
            let abs_pat = if alt.starts_with('/') {
                alt.clone()
            } else {
                abs_dir.join(&alt).display().to_string()
            };
            let mut paths: Vec<PathBuf> = match glob::glob(&abs_pat) {
                Ok(paths) => paths.filter_map(Result::ok).collect(),
                Err(e) => {
                    self.diag(
                        Diag::new(
                            Level::Warning,
                            Some(src),
                            format!("include pattern `{alt}` is not valid: {e}"),
                        )
                        .help("keepalived skips this include; fix the pattern"),
                    );
                    continue;
                }
            };
            paths.sort();
            for p in paths {
                let shown = match p.strip_prefix(&abs_dir) {
                    Ok(rel) if !alt.starts_with('/') => {
                        if shown_dir.is_empty() {
                            rel.display().to_string()
                        } else {
                            format!("{shown_dir}/{}", rel.display())
                        }
                    }
                    _ => p.display().to_string(),
                };
                if self.files.len() >= MAX_FILES {
                    self.diag(Diag::new(
                        Level::Fatal,
                        Some(src),
                        format!("more than {MAX_FILES} files included"),
                    ));
                    return true;
                }
                match std::fs::metadata(&p) {
                    Ok(m)
                        if m.is_file() && {
                            use std::os::unix::fs::PermissionsExt;
                            m.permissions().mode() & 0o111 == 0
                        } => {}
                    _ => {
                        self.diag(
                            Diag::new(
                                Level::Warning,
                                Some(src),
                                format!("`{shown}` is not a regular non-executable file; keepalived skips it"),
                            )
                            .help("include only configuration files"),
                        );
                        continue;
                    }
                }
                match read_source(&p) {
                    Ok(text) => {
                        matched += 1;
                        self.push_file(&p, shown, text);
                        if self.fatal {
                            return true;
                        }
                    }
                    Err(e) => self.diag(
                        Diag::new(
                            Level::Warning,
                            Some(src),
                            format!("cannot read included `{shown}`: {e}"),
                        )
                        .help("keepalived skips it too; make it readable or remove the include"),
                    ),
                }
            }
        }
        if matched == 0 {
            self.diag(
                Diag::new(
                    Level::Warning,
                    Some(src),
                    format!("`include {pattern}` matches no file"),
                )
                .label("nothing included")
                .help("keepalived carries on without it; so does import"),
            );
        }
        true
    }

    /// Splits off every unquoted `{` and `}` as a line of its own (keepalived's
    /// `line_residue`), and turns the rest into words.
    fn braces(&mut self, buf: String, origin: Origin) {
        let rest = buf.trim_matches([' ', '\t']);
        if rest.is_empty() {
            return;
        }
        let b = rest.as_bytes();
        if b[0] == b'{' || b[0] == b'}' {
            let src = origin.src();
            self.toks.push(if b[0] == b'{' {
                Tok::Open(src)
            } else {
                Tok::Close(src)
            });
            // The residue is read again from the top, as keepalived does.
            let r = rest[1..].trim_start_matches([' ', '\t']).to_string();
            if !r.is_empty() {
                self.residue(r, origin);
            }
            return;
        }
        let mut i = 0;
        let mut cut = None;
        while i < b.len() {
            match b[i] {
                b'"' => match rest[i + 1..].find('"') {
                    Some(j) => i += j + 2,
                    None => break,
                },
                b'{' | b'}' => {
                    cut = Some(i);
                    break;
                }
                _ => i += 1,
            }
        }
        match cut {
            None => self.words(rest, origin),
            Some(c) => {
                self.words(&rest[..c], origin);
                self.residue(rest[c..].to_string(), origin);
            }
        }
    }

    /// A residue goes through the `@`, `$` and include steps again, as in keepalived.
    fn residue(&mut self, r: String, origin: Origin) {
        if r.starts_with('{') || r.starts_with('}') {
            self.braces(r, origin);
        } else {
            self.logical(r, origin);
        }
    }

    /// keepalived's `alloc_strvec()`: words split at white space; a word starting with `"`
    /// runs to the next `"` (no escapes) and loses its quotes.
    fn words(&mut self, text: &str, origin: Origin) {
        let text = text.trim_end_matches([' ', '\t']);
        if text.is_empty() {
            return;
        }
        let mut words = Vec::new();
        let mut rest = text;
        let mut cursor = 0usize;
        let physical = &self.files[origin.file].text[origin.start..origin.start + origin.len];
        loop {
            rest = rest.trim_start_matches(WHITE);
            if rest.is_empty() {
                break;
            }
            let (word, raw_len, shown) = if let Some(q) = rest.strip_prefix('"') {
                match q.find('"') {
                    Some(j) => (q[..j].to_string(), j + 2, &rest[..j + 2]),
                    None => {
                        self.diag(
                            Diag::new(Level::Fatal, Some(origin.src()), "unmatched quote")
                                .label("this line")
                                .help("close the quoted string on the same line"),
                        );
                        return;
                    }
                }
            } else {
                let j = rest
                    .find(|c: char| WHITE.contains(&c) || c == '"')
                    .unwrap_or(rest.len());
                (rest[..j].to_string(), j, &rest[..j])
            };
            let src = if origin.verbatim {
                match physical[cursor.min(physical.len())..].find(shown) {
                    Some(k) => {
                        let start = cursor + k;
                        cursor = start + shown.len();
                        Src {
                            start: origin.start + start,
                            len: shown.len(),
                            ..origin.src()
                        }
                    }
                    None => origin.src(),
                }
            } else {
                origin.src()
            };
            words.push(Word { text: word, src });
            rest = &rest[raw_len..];
        }
        if words.is_empty() {
            return;
        }
        let start = words.first().map_or(origin.start, |w| w.src.start);
        let end = words
            .last()
            .map_or(origin.start + origin.len, |w| w.src.start + w.src.len);
        let src = if origin.verbatim && end >= start {
            Src {
                start,
                len: end - start,
                ..origin.src()
            }
        } else {
            origin.src()
        };
        self.toks.push(Tok::Line(Line {
            words,
            raw: text.to_string(),
            src,
        }));
    }
}

enum Subst {
    None,
    Done(String, Vec<String>),
}

/// Reads a source file: at most [`MAX_FILE_LEN`] bytes of UTF-8.
fn read_source(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    if bytes.len() > MAX_FILE_LEN {
        return Err(format!(
            "{} bytes is more than the {MAX_FILE_LEN} a configuration may have",
            bytes.len()
        ));
    }
    if bytes.contains(&0) {
        return Err("it holds NUL bytes; it is not a text file".to_string());
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// glibc's `GLOB_BRACE`: `a{b,c}d` is `abd` and `acd`, alternatives in order, nesting
/// allowed; `\` escapes a brace.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let b = pattern.as_bytes();
    let mut i = 0;
    let mut open = None;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'{' => {
                open = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let Some(open) = open else {
        return vec![pattern.to_string()];
    };
    // Find the matching close and the top-level commas.
    let mut depth = 0;
    let mut commas = Vec::new();
    let mut close = None;
    let mut j = open;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 1,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(j);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(j),
            _ => {}
        }
        j += 1;
    }
    let Some(close) = close else {
        return vec![pattern.to_string()];
    };
    let (pre, post) = (&pattern[..open], &pattern[close + 1..]);
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alt = &pattern[w[0] + 1..w[1]];
        for tail in expand_braces(&format!("{alt}{post}")) {
            out.push(format!("{pre}{tail}"));
        }
    }
    if out.len() > 1024 {
        out.truncate(1024);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str, id: Option<&str>) -> Vec<String> {
        let mut r = Reader::new(id.map(str::to_string), false);
        r.read_text(text, "t.conf")
            .into_iter()
            .map(|t| match t {
                Tok::Open(_) => "{".to_string(),
                Tok::Close(_) => "}".to_string(),
                Tok::Line(l) => l
                    .words
                    .iter()
                    .map(|w| format!("[{}]", w.text))
                    .collect::<String>(),
            })
            .collect()
    }

    #[test]
    fn braces_split_off_and_comments_go() {
        assert_eq!(
            lines("vrrp_instance VI_1 { state MASTER } # c\n", None),
            ["[vrrp_instance][VI_1]", "{", "[state][MASTER]", "}"]
        );
        assert_eq!(lines("a \"b # c\" ! d\n", None), ["[a][b # c]"]);
        assert_eq!(lines("a \\#b\n", None), ["[a][#b]"]);
        assert_eq!(lines("a\"b c\"d\n", None), ["[a][b c][d]"]);
    }

    #[test]
    fn config_id_lines() {
        let t = "@lb1 priority 100\n@lb2 priority 90\n@^lb1 weight 1\n@lb1\n";
        assert_eq!(lines(t, Some("lb1")), ["[priority][100]"]);
        assert_eq!(lines(t, Some("lb2")), ["[priority][90]", "[weight][1]"]);
        assert_eq!(lines(t, None), ["[weight][1]"]);
    }

    #[test]
    fn definitions_and_substitution() {
        let t = "$IF=eth0\n$P = 100\ninterface $IF\npriority ${P}\n$A=$IF x\nx $A\nkeep $IFX $5\n";
        assert_eq!(
            lines(t, None),
            [
                "[interface][eth0]",
                "[priority][100]",
                "[x][eth0][x]",
                "[keep][$IFX][$5]"
            ]
        );
    }

    #[test]
    fn multiline_definition() {
        let t = "$VIPS=192.0.2.1 \\\n  192.0.2.2 \\\n 192.0.2.3\nvirtual_ipaddress {\n$VIPS\n}\n";
        assert_eq!(
            lines(t, None),
            [
                "[virtual_ipaddress]",
                "{",
                "[192.0.2.1]",
                "[192.0.2.2]",
                "[192.0.2.3]",
                "}"
            ]
        );
    }

    #[test]
    fn self_reference_ends_with_a_diagnostic() {
        for t in ["$A=$A\nx $A\n", "$A=${A}x\nx $A\n", "$A=$B\n$B=$A\nx $A\n"] {
            let mut r = Reader::new(None, false);
            r.read_text(t, "t.conf");
            let (_, diags) = r.into_parts();
            assert!(
                diags.iter().any(|d| d.level == Level::Fatal),
                "{t:?}: {diags:?}"
            );
        }
    }

    #[test]
    fn brace_expansion() {
        assert_eq!(expand_braces("a/{b,c}.conf"), ["a/b.conf", "a/c.conf"]);
        assert_eq!(expand_braces("{x,{y,z}}"), ["x", "y", "z"]);
        assert_eq!(expand_braces("plain*.conf"), ["plain*.conf"]);
    }
}
