import Foundation
import Ink

/// HTML for the Markdown the analysis and the report write (headings, paragraphs, pipe tables,
/// images, links, code, bold), through Ink (John Sundell's Markdown parser), so that their pages open
/// in a browser with their figures inline.
///
///     MarkdownPage.html("## Table 2\n\n| a | b |\n|---|---|\n| ![m](x.png) | 1 |\n", linkPrefix: "analysis/")
public enum MarkdownPage {
    /// - Parameters:
    ///   - linkPrefix: prepended to relative image and link targets (the page is embedded elsewhere).
    ///   - headingOffset: added to every heading level (an embedded page's `#` becomes `<h2>`).
    public static func html(_ markdown: String, linkPrefix: String = "", headingOffset: Int = 0) -> String {
        var parser = MarkdownParser()
        parser.addModifier(Modifier(target: .images) { prefixed($0.html, attribute: "src", linkPrefix) })
        parser.addModifier(Modifier(target: .links) { prefixed($0.html, attribute: "href", linkPrefix) })
        parser.addModifier(Modifier(target: .headings) { input in
            guard headingOffset != 0, let level = input.html.dropFirst(2).first?.wholeNumberValue else { return input.html }
            let shifted = min(level + headingOffset, 6)
            return "<h\(shifted)>" + input.html.dropFirst(4).dropLast(5) + "</h\(shifted)>"
        })
        return parser.html(from: markdown)
    }

    /// `<img src="a.png" …>` → `<img src="analysis/a.png" …>` for a relative target.
    static func prefixed(_ html: String, attribute: String, _ prefix: String) -> String {
        let marker = "\(attribute)=\""
        guard !prefix.isEmpty, let range = html.range(of: marker) else { return html }
        let target = html[range.upperBound...]
        if target.hasPrefix("/") || target.hasPrefix("#") || target.prefix(while: { $0 != "\"" }).contains("://") { return html }
        return html.replacingCharacters(in: range, with: marker + prefix)
    }
}
