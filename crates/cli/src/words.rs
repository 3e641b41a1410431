//! Splitting a `crypta shell` line into words: whitespace-separated, with single and double
//! quotes (CQL statements keep their inner quotes when wrapped in the other kind).

/// Splits `line` into words, or says where a quote is unterminated.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                in_word = true;
                let quote = c;
                loop {
                    match chars.next() {
                        None => return Err(format!("unterminated {quote} quote")),
                        Some('\\') if quote == '"' => match chars.next() {
                            Some(e) => cur.push(e),
                            None => return Err("unterminated \" quote".into()),
                        },
                        Some(x) if x == quote => break,
                        Some(x) => cur.push(x),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = chars.next() {
                    cur.push(e);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn quotes_and_spaces() {
        assert_eq!(
            split("put ks.t k 'a b'").unwrap(),
            ["put", "ks.t", "k", "a b"]
        );
        assert_eq!(
            split(r#"cql "CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {'class': 'Encryptor'}""#).unwrap(),
            ["cql", "CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {'class': 'Encryptor'}"]
        );
        assert_eq!(split("  get   ks.t ''  ").unwrap(), ["get", "ks.t", ""]);
        assert!(split("put 'oops").is_err());
    }
}
