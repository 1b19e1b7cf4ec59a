import Foundation

/// HTML for the Markdown the analysis writes — headings, paragraphs, pipe tables, images, links,
/// `code` and **bold** — so that its pages open in a browser with their figures inline (no
/// Markdown library is among the packages this project may use, and it needs only this subset).
///
///     MarkdownHTML.render("## Table 2\n\n| a | b |\n|---|---|\n| ![m](x.png) | 1 |\n", linkPrefix: "analysis/")
public enum MarkdownHTML {
    /// - Parameters:
    ///   - linkPrefix: prepended to relative image and link targets (the page is embedded elsewhere).
    ///   - headingOffset: added to every heading level (an embedded page's `#` becomes `<h2>`).
    public static func render(_ markdown: String, linkPrefix: String = "", headingOffset: Int = 0) -> String {
        var html = ""
        var paragraph: [String] = []
        var table: [[String]] = []
        func flush() {
            if !paragraph.isEmpty { html += "<p>" + paragraph.map { inline($0, linkPrefix) }.joined(separator: "\n") + "</p>\n" }
            paragraph = []
            if let header = table.first {
                html += "<table><tr>" + header.map { "<th>\(inline($0, linkPrefix))</th>" }.joined() + "</tr>\n"
                for row in table.dropFirst() { html += "<tr>" + row.map { "<td>\(inline($0, linkPrefix))</td>" }.joined() + "</tr>\n" }
                html += "</table>\n"
            }
            table = []
        }
        for raw in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { flush(); continue }
            if line.hasPrefix("|") {
                if !paragraph.isEmpty { flush() }
                let cells = cellsOf(line)
                if !cells.allSatisfy({ $0.allSatisfy { "-:".contains($0) } && !$0.isEmpty }) { table.append(cells) }
                continue
            }
            if !table.isEmpty { flush() }
            if line.hasPrefix("#") {
                flush()
                let level = line.prefix { $0 == "#" }.count
                let h = min(level + headingOffset, 6)
                html += "<h\(h)>\(inline(line.dropFirst(level).trimmingCharacters(in: .whitespaces), linkPrefix))</h\(h)>\n"
            } else if line.hasPrefix("- ") {
                flush()
                html += "<ul><li>\(inline(String(line.dropFirst(2)), linkPrefix))</li></ul>\n"
            } else {
                paragraph.append(line)
            }
        }
        flush()
        return html
    }

    /// The cells of `| a | b |`.
    static func cellsOf(_ line: String) -> [String] {
        var body = Substring(line)
        if body.hasPrefix("|") { body = body.dropFirst() }
        if body.hasSuffix("|") { body = body.dropLast() }
        return body.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// Escapes the text and turns `![alt](src)`, `[text](href)`, `code` and **bold** into tags.
    static func inline(_ text: String, _ prefix: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let c = rest.first {
            if c == "!" || c == "[", let (label, target, after, isImage) = link(rest) {
                let href = escape(target.contains("://") || target.hasPrefix("/") ? target : prefix + target)
                out += isImage ? "<img src=\"\(href)\" alt=\"\(escape(label))\">" : "<a href=\"\(href)\">\(escape(label))</a>"
                rest = after
            } else if c == "`", let end = rest.dropFirst().firstIndex(of: "`") {
                out += "<code>\(escape(String(rest[rest.index(after: rest.startIndex)..<end])))</code>"
                rest = rest[rest.index(after: end)...]
            } else if rest.hasPrefix("**"), let end = rest.dropFirst(2).range(of: "**") {
                out += "<b>\(escape(String(rest[rest.index(rest.startIndex, offsetBy: 2)..<end.lowerBound])))</b>"
                rest = rest[end.upperBound...]
            } else {
                out += escape(String(c))
                rest = rest.dropFirst()
            }
        }
        return out
    }

    /// `![label](target)` or `[label](target)` at the start of `s`.
    static func link(_ s: Substring) -> (String, String, Substring, Bool)? {
        let isImage = s.hasPrefix("![")
        let open = isImage ? s.dropFirst(2) : s.dropFirst()
        guard isImage || s.hasPrefix("["), let close = open.firstIndex(of: "]"),
              open[open.index(after: close)...].hasPrefix("("), let end = open[close...].firstIndex(of: ")") else { return nil }
        let target = open[open.index(close, offsetBy: 2)..<end]
        return (String(open[..<close]), String(target), open[open.index(after: end)...], isImage)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
