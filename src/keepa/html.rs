//! Keepa's text fields as text: a title "may contain HTML" (keepa-api.md §7), the markup of
//! Amazon's listing pages. Tags are dropped (a line break or a block tag leaves a space, an
//! inline one nothing) and character references decoded (`&amp;`, `&#233;`, `&#xE9;`, the
//! common named ones), so `Salt &amp; Pepper <b>Mill</b>s` reads `Salt & Pepper Mills`. A `<` that does not open a
//! tag (`< 2 m`, `<3`) and an `&` that starts no reference stay as they are.

use std::borrow::Cow;

/// Longest tag or reference looked for: past it, the `<` or `&` is text.
const MAX_MARKUP: usize = 64;

/// `raw` with its tags dropped and references decoded; borrowed when it has neither.
pub fn to_text(raw: &str) -> Cow<'_, str> {
    if !raw.contains(['<', '&']) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        let at = &rest[i..];
        let taken = if at.starts_with('<') {
            tag(at).map(|(n, breaks)| {
                if breaks {
                    out.push(' ');
                }
                n
            })
        } else {
            reference(at).map(|(c, n)| {
                out.push(c);
                n
            })
        };
        match taken {
            Some(n) => rest = &at[n..],
            None => {
                out.push(at.as_bytes()[0] as char);
                rest = &at[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The length of the tag `s` starts with (`<b>`, `</i>`, `<br/>`, `<span class="x">`), and
/// whether it breaks the text (a line break or a block: words either side stay apart).
fn tag(s: &str) -> Option<(usize, bool)> {
    let body = s.strip_prefix('<')?;
    let name = body.strip_prefix('/').unwrap_or(body);
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let end = s
        .char_indices()
        .take(MAX_MARKUP)
        .find_map(|(i, c)| match c {
            '>' => Some(Some(i + 1)),
            '<' if i > 0 => Some(None),
            _ => None,
        })??;
    let name: String = name
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let breaks = matches!(
        name.as_str(),
        "br" | "p" | "div" | "li" | "ul" | "ol" | "tr" | "td" | "h1" | "h2" | "h3" | "h4"
    );
    Some((end, breaks))
}

/// The character a reference `s` starts with stands for, and the reference's length.
fn reference(s: &str) -> Option<(char, usize)> {
    let end = s
        .char_indices()
        .take(MAX_MARKUP)
        .find(|(_, c)| *c == ';')?
        .0;
    let name = &s[1..end];
    let c = if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        char::from_u32(code)?
    } else {
        match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => ' ',
            "ndash" => '–',
            "mdash" => '—',
            "hellip" => '…',
            "euro" => '€',
            "pound" => '£',
            "reg" => '®',
            "trade" => '™',
            "copy" => '©',
            "deg" => '°',
            "times" => '×',
            // Letters of the five markets' languages that listings write as references.
            "auml" => 'ä',
            "ouml" => 'ö',
            "uuml" => 'ü',
            "Auml" => 'Ä',
            "Ouml" => 'Ö',
            "Uuml" => 'Ü',
            "szlig" => 'ß',
            "eacute" => 'é',
            "egrave" => 'è',
            "ecirc" => 'ê',
            "Eacute" => 'É',
            "agrave" => 'à',
            "aacute" => 'á',
            "acirc" => 'â',
            "ccedil" => 'ç',
            "iacute" => 'í',
            "igrave" => 'ì',
            "oacute" => 'ó',
            "ograve" => 'ò',
            "uacute" => 'ú',
            "ugrave" => 'ù',
            "ntilde" => 'ñ',
            _ => return None,
        }
    };
    Some((c, end + 1))
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn tags_go_and_references_are_decoded() {
        assert_eq!(
            to_text("Salt &amp; Pepper <b>Mill</b>s"),
            "Salt & Pepper Mills"
        );
        assert_eq!(to_text("Caf&#233; &#xE9;t&eacute;"), "Café été");
        assert_eq!(to_text("Line<br/>two<P>three"), "Line two three");
        assert_eq!(to_text("<span class=\"x\">In</span>"), "In");
        assert_eq!(
            to_text("&lt;script&gt;"),
            "<script>",
            "decoded text is not markup"
        );
    }

    #[test]
    fn text_that_only_looks_like_markup_stays() {
        for s in [
            "Cable < 2 m",
            "I <3 it",
            "Tom & Jerry",
            "A&B;",
            "&#;",
            "&#xZZ;",
            "x<",
        ] {
            assert_eq!(to_text(s), s);
        }
        // A `<` with no `>` near enough is text.
        let long = format!("<a{}", "b".repeat(100));
        assert_eq!(to_text(&long), long);
        // A reference to nothing a char can be (a surrogate) stays.
        assert_eq!(to_text("&#xD800;"), "&#xD800;");
    }
}
