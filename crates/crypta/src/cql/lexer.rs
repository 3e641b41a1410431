//! Tokens of the CQL subset crypta speaks.
#![deny(clippy::indexing_slicing)]

use super::CqlError;

/// One token with the byte offsets where it starts and where it ends (exclusive).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: Tok,
    pub(crate) pos: usize,
    pub(crate) end: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// An identifier or keyword, as written (quoted identifiers keep their case).
    Ident { text: String, quoted: bool },
    /// A string literal, unescaped.
    Str(String),
    /// A number literal, as written.
    Number(String),
    /// Punctuation: `( ) { } , : ; . = [ ] < > *`.
    Punct(char),
    /// End of input.
    End,
}

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, CqlError> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(pos, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '-' && src.get(pos..pos + 2) == Some("--") {
            while chars.next_if(|&(_, c)| c != '\n').is_some() {}
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut text = String::new();
            while let Some((_, c)) = chars.next_if(|&(_, c)| c.is_ascii_alphanumeric() || c == '_')
            {
                text.push(c);
            }
            out.push(Token {
                kind: Tok::Ident {
                    text,
                    quoted: false,
                },
                pos,
                end: chars.peek().map_or(src.len(), |&(p, _)| p),
            });
        } else if c.is_ascii_digit()
            || (c == '-'
                && src
                    .get(pos + 1..pos + 2)
                    .is_some_and(|d| d.chars().all(|d| d.is_ascii_digit())))
        {
            let mut text = String::new();
            text.push(c);
            chars.next();
            while let Some((_, c)) = chars.next_if(|&(_, c)| c.is_ascii_digit() || c == '.') {
                text.push(c);
            }
            out.push(Token {
                kind: Tok::Number(text),
                pos,
                end: chars.peek().map_or(src.len(), |&(p, _)| p),
            });
        } else if c == '\'' || c == '"' {
            let quote = c;
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    None => {
                        return Err(CqlError::at(
                            src,
                            pos,
                            if quote == '\'' {
                                "unterminated string literal"
                            } else {
                                "unterminated quoted identifier"
                            },
                        ));
                    }
                    Some((_, c)) if c == quote => {
                        // A doubled quote is an escaped quote.
                        if chars.next_if(|&(_, c)| c == quote).is_some() {
                            text.push(quote);
                        } else {
                            break;
                        }
                    }
                    Some((_, c)) => text.push(c),
                }
            }
            out.push(Token {
                kind: if quote == '\'' {
                    Tok::Str(text)
                } else {
                    Tok::Ident { text, quoted: true }
                },
                pos,
                end: chars.peek().map_or(src.len(), |&(p, _)| p),
            });
        } else if "(){},:;.=[]<>*".contains(c) {
            chars.next();
            out.push(Token {
                kind: Tok::Punct(c),
                pos,
                end: chars.peek().map_or(src.len(), |&(p, _)| p),
            });
        } else {
            return Err(CqlError::at(
                src,
                pos,
                &format!("unexpected character {c:?}"),
            ));
        }
    }
    out.push(Token {
        kind: Tok::End,
        pos: src.len(),
        end: src.len(),
    });
    Ok(out)
}
