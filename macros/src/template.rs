//! Description templates: `{name}` placeholders that name the function's parameters.

/// A problem with a template, as a message for the user.
pub(crate) type Problem = String;

/// The parameter names a template's placeholders use, in order, or what is wrong with it.
///
/// Placeholders follow `format!`: `{name}` or `{name:spec}`, with `{{` and `}}` for braces.
pub(crate) fn placeholders(template: &str) -> Result<Vec<String>, Problem> {
    let mut names = Vec::new();
    let mut chars = template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().is_some_and(|&(_, c)| c == '{') => {
                chars.next();
            }
            '{' => {
                let rest = &template[i + 1..];
                let Some(end) = rest.find('}') else {
                    return Err("a `{` is never closed; write `{{` for a literal brace".into());
                };
                let inner = &rest[..end];
                let name = inner.split(':').next().unwrap_or("").trim();
                if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                    return Err(format!(
                        "placeholder `{{{inner}}}` must name a parameter of the function, \
                         such as `{{connection_id}}`"
                    ));
                }
                if !is_identifier(name) {
                    return Err(format!(
                        "placeholder `{{{inner}}}` must be a parameter name, not an expression"
                    ));
                }
                names.push(name.to_owned());
                for _ in 0..=inner.chars().count() {
                    chars.next();
                }
            }
            '}' if chars.peek().is_some_and(|&(_, c)| c == '}') => {
                chars.next();
            }
            '}' => return Err("a `}` is never opened; write `}}` for a literal brace".into()),
            _ => {}
        }
    }
    Ok(names)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn finds_names() {
        assert_eq!(
            placeholders("Pinged {connection_id} for {user:?}").unwrap(),
            ["connection_id", "user"]
        );
        assert_eq!(
            placeholders("no placeholders").unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(placeholders("{{literal}} {x}}}").unwrap(), ["x"]);
        assert_eq!(placeholders("é{x}é").unwrap(), ["x"]);
    }

    #[test]
    fn refuses_what_is_not_a_parameter_name() {
        assert!(
            placeholders("{}")
                .unwrap_err()
                .contains("must name a parameter")
        );
        assert!(
            placeholders("{0}")
                .unwrap_err()
                .contains("must name a parameter")
        );
        assert!(
            placeholders("{self.id}")
                .unwrap_err()
                .contains("not an expression")
        );
        assert!(placeholders("{x").unwrap_err().contains("never closed"));
        assert!(placeholders("x}").unwrap_err().contains("never opened"));
    }
}
