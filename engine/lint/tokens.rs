//! A small scanner over Rhai source that finds dotted paths (`steps.payment.Amount`), float
//! literals and called function names outside strings and comments. Rules that reason about
//! data flow (undefined steps, card data, float money) use it; full parsing is Rhai's job.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// `event.credit_card.number`, with `["x"]` indexing folded into dots.
    Path(Vec<String>),
    /// A float literal such as `1.5`.
    Float(String),
    /// A called function or method name (`to_float` in `x.to_float()`).
    Call(String),
    /// A string literal's content.
    Str(String),
}

/// Tokens with their 1-based (line, col) inside the source.
pub fn scan(src: &str) -> Vec<(Token, usize, usize)> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut line_start) = (0usize, 1usize, 0usize);
    let pos = |i: usize, line: usize, ls: usize| (line, i - ls + 1);
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            line_start = i + 1;
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                if chars[i] == '\n' {
                    line += 1;
                    line_start = i + 1;
                }
                i += 1;
            }
            i += 2;
        } else if c == '"' || c == '`' || c == '\'' {
            let (l, col) = pos(i, line, line_start);
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                if let Some(&ch) = chars.get(i) {
                    if ch == '\n' {
                        line += 1;
                        line_start = i + 1;
                    }
                    s.push(ch);
                }
                i += 1;
            }
            i += 1;
            out.push((Token::Str(s), l, col));
        } else if c.is_ascii_digit() {
            let (l, col) = pos(i, line, line_start);
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '_') {
                i += 1;
            }
            if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push((Token::Float(chars[start..i].iter().collect()), l, col));
            }
        } else if c.is_alphabetic() || c == '_' {
            let (l, col) = pos(i, line, line_start);
            let preceded_by_dot = i > 0 && chars[i - 1] == '.';
            let mut parts = vec![ident(&chars, &mut i)];
            loop {
                if chars.get(i) == Some(&'.')
                    && chars
                        .get(i + 1)
                        .is_some_and(|c| c.is_alphabetic() || *c == '_')
                {
                    i += 1;
                    parts.push(ident(&chars, &mut i));
                } else if chars.get(i) == Some(&'?')
                    && chars.get(i + 1) == Some(&'.')
                    && chars
                        .get(i + 2)
                        .is_some_and(|c| c.is_alphabetic() || *c == '_')
                {
                    i += 2;
                    parts.push(ident(&chars, &mut i));
                } else if chars.get(i) == Some(&'[') && chars.get(i + 1) == Some(&'"') {
                    let mut j = i + 2;
                    let mut key = String::new();
                    while j < chars.len() && chars[j] != '"' {
                        key.push(chars[j]);
                        j += 1;
                    }
                    if chars.get(j + 1) != Some(&']') {
                        break;
                    }
                    parts.push(key);
                    i = j + 2;
                } else {
                    break;
                }
            }
            if chars.get(i) == Some(&'(') {
                let name = parts.pop().unwrap_or_default();
                out.push((Token::Call(name), l, col));
                if !parts.is_empty() && !preceded_by_dot {
                    out.push((Token::Path(parts), l, col));
                }
            } else if !preceded_by_dot {
                out.push((Token::Path(parts), l, col));
            }
        } else {
            i += 1;
        }
    }
    out
}

fn ident(chars: &[char], i: &mut usize) -> String {
    let start = *i;
    while *i < chars.len() && (chars[*i].is_alphanumeric() || chars[*i] == '_') {
        *i += 1;
    }
    chars[start..*i].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(src: &str) -> Vec<String> {
        scan(src)
            .into_iter()
            .filter_map(|(t, _, _)| match t {
                Token::Path(p) => Some(p.join(".")),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn finds_paths_outside_strings() {
        assert_eq!(
            paths(r#""steps.x" + steps.pay.Amount + event["credit_card"].number // steps.y"#),
            ["steps.pay.Amount", "event.credit_card.number"]
        );
    }

    #[test]
    fn finds_floats_and_calls() {
        let t = scan("money(event.amount) * 1.05 + x.to_float()");
        assert!(t.contains(&(Token::Call("money".into()), 1, 1)));
        assert!(t.contains(&(Token::Float("1.05".into()), 1, 23)));
        assert!(
            t.iter()
                .any(|(t, _, _)| *t == Token::Call("to_float".into()))
        );
    }
}
