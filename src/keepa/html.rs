//! Keepa's text fields as text: a title "may contain HTML" (keepa-api.md §7), the markup of
//! Amazon's listing pages. The tags of that markup are dropped (a line break or a block tag
//! leaves a space, an inline one nothing) and character references decoded (`&amp;`,
//! `&#233;`, `&#xE9;`, the common named ones), so `Salt &amp; Pepper <b>Mill</b>s` reads
//! `Salt & Pepper Mills`. Anything else in angle brackets is text, as sizes and specs are
//! (`Größe <M>`, `<USB-C auf HDMI>`), and so is an `&` that starts no reference. A numeric
//! reference decodes as a browser reads it: 128–159 in Windows-1252 (`&#146;` is `’`), and
//! one to a control character or to no character at all to nothing, so that what is decoded
//! never starts an escape sequence.

use std::borrow::Cow;

/// Longest reference looked for: past it, the `&` is text.
const MAX_REFERENCE: usize = 32;

/// Longest tag looked for (attributes included): past it, the `<` is text.
const MAX_TAG: usize = 512;

/// The tags of a product page's markup that a title may carry, and whether each breaks the
/// text (words either side stay apart).
const TAGS: [(&str, bool); 24] = [
    ("a", false),
    ("b", false),
    ("i", false),
    ("u", false),
    ("em", false),
    ("strong", false),
    ("span", false),
    ("font", false),
    ("sup", false),
    ("sub", false),
    ("small", false),
    ("br", true),
    ("p", true),
    ("div", true),
    ("li", true),
    ("ul", true),
    ("ol", true),
    ("table", true),
    ("tr", true),
    ("td", true),
    ("h1", true),
    ("h2", true),
    ("h3", true),
    ("h4", true),
];

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
                out.extend(c);
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

/// The length of the tag of [`TAGS`] that `s` starts with (`<b>`, `</i>`, `<br/>`, `<span
/// class="x">`), and whether it breaks the text.
fn tag(s: &str) -> Option<(usize, bool)> {
    let body = s.strip_prefix('<')?;
    let body = body.strip_prefix('/').unwrap_or(body);
    let name_len = body
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(body.len());
    let (name, after) = body.split_at(name_len);
    // The name ends the tag or is followed by its attributes: `<M>` is a size, `<USB-C …>`
    // a spec, `<br/>` a tag.
    if !after.starts_with(['>', '/', ' ', '\t', '\n']) {
        return None;
    }
    let breaks = TAGS
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(name))
        .map(|(_, breaks)| *breaks)?;
    let end = s.char_indices().take(MAX_TAG).find_map(|(i, c)| match c {
        '>' => Some(Some(i + 1)),
        '<' if i > 0 => Some(None),
        _ => None,
    })??;
    Some((end, breaks))
}

/// What a reference `s` starts with stands for (nothing, for a control character or a
/// number that is no character), and the reference's length.
fn reference(s: &str) -> Option<(Option<char>, usize)> {
    let end = s
        .char_indices()
        .take(MAX_REFERENCE)
        .find(|(_, c)| *c == ';')?
        .0;
    let name = &s[1..end];
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) if !hex.is_empty() => u32::from_str_radix(hex, 16).ok()?,
            None if !num.is_empty() => num.parse().ok()?,
            _ => return None,
        };
        return Some((numeric(code), end + 1));
    }
    let c = match name {
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
    };
    Some((Some(c), end + 1))
}

/// The character a numeric reference stands for, as browsers read it (HTML's "numeric
/// character reference end state"): 128–159 are Windows-1252, as pages in that encoding
/// meant them; a control character, a surrogate or a number past Unicode is nothing.
fn numeric(code: u32) -> Option<char> {
    const CP1252: [u32; 32] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
        0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC,
        0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ];
    let code = match code {
        0x80..=0x9F => CP1252[(code - 0x80) as usize],
        c => c,
    };
    char::from_u32(code).filter(|c| !c.is_control())
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
        let long = format!(
            "<span id=\"productTitle\" class=\"{}\">Kettle</span>",
            "a-size-large ".repeat(10)
        );
        assert_eq!(to_text(&long), "Kettle", "a tag with long attributes");
    }

    #[test]
    fn text_that_only_looks_like_markup_stays() {
        for s in [
            "Cable < 2 m",
            "I <3 it",
            "Tom & Jerry",
            "A&B;",
            "&#;",
            "&#x;",
            "&#xZZ;",
            "x<",
            "<b",
            "T-Shirt Größe <M> schwarz",
            "Jacke <XL>",
            "Adapter <USB-C auf HDMI> 4K",
        ] {
            assert_eq!(to_text(s), s);
        }
        // A tag's `<` with no `>` near enough is text.
        let long = format!("<b {}", "b".repeat(600));
        assert_eq!(to_text(&long), long);
    }

    #[test]
    fn numeric_references_decode_as_a_browser_reads_them_never_to_a_control() {
        assert_eq!(to_text("L&#146;Or&eacute;al"), "L’Oréal");
        assert_eq!(to_text("10&#150;20"), "10–20");
        assert_eq!(to_text("&#128; 5"), "€ 5");
        assert_eq!(to_text("Pie&#158;kny"), "Pie\u{17e}kny");
        // Controls (C0, DEL, C1 with no Windows-1252 letter), surrogates, past Unicode: nothing.
        for s in [
            "a&#27;[31mb",
            "a&#155;b",
            "a&#x9D;b",
            "a&#127;b",
            "a&#0;b",
            "a&#xD800;b",
            "a&#x110000;b",
        ] {
            let text = to_text(s);
            assert!(!text.chars().any(char::is_control), "{s}: {text:?}");
            assert!(
                text.starts_with('a') && text.ends_with('b'),
                "{s}: {text:?}"
            );
        }
    }
}
