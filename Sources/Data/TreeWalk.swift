#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// One scan's walk over a data set's folder tree, so that every directory and every file is seen
/// once. Without it `ln -s .. cats/up` made a scan walk the whole tree again under `cats/`
/// (relabelling every dog a cat, and putting the same file in both splits), and a hard link
/// or a file symlink put one image in the data set twice.
///
/// The rules (docs/data.md, "Links and loops"):
/// - A directory is identified by device and inode: reached a second time by another path (a
///   bind mount, a link), it is passed over and listed.
/// - A symbolic link that leads back into the tree (to the root, anything below it, or a folder
///   that contains the root) is passed over and listed: what it points at is read from its own
///   place, under its own class, or not at all. A directory link to a folder that contains the
///   folder being walked is a loop and passed over too.
/// - A file is identified by device and inode as well: a second name for it (a hard link) is passed
///   over and listed, so one file never lands in two classes or in both splits.
/// - Links that lead out of the tree (a class folder linked from another disk, files linked from a
///   download cache) are followed.
///
/// Passed-over entries become `SkippedFile`s, so `--strict` turns each into an error.
struct TreeWalk {
    /// What identifies a file or directory whatever path reaches it.
    struct FileID: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// The kind of a folder entry, after following links.
    enum Entry: Equatable { case directory, file, passedOver }

    /// The tree's root as given (paths in listings and messages start with it) and resolved.
    let root: String
    let resolvedRoot: String
    private var directories: [FileID: String] = [:]
    private var files: [FileID: String] = [:]
    /// Entries passed over, with the reason, in the order met.
    private(set) var skipped: [SkippedFile] = []

    init(root: String) throws {
        guard let resolved = Self.resolve(root) else {
            throw DataError(.unreadable, path: root, "cannot resolve the folder's path: \(String(cString: strerror(errno)))")
        }
        self.root = root
        resolvedRoot = resolved
    }

    /// What the entry at `path` is, in a directory whose resolved path is `parent` (nil: the parent
    /// is not being walked, as for a split folder the layout names). A link that leads back into the
    /// tree, a loop or a broken link is recorded and reported as `.passedOver`.
    mutating func classify(_ path: String, in parent: String? = nil) -> Entry {
        var info = stat()
        guard lstat(path, &info) == 0 else { return .file }   // vanished: the decoder names it
        if info.st_mode & S_IFMT == S_IFLNK {
            guard let target = Self.resolve(path) else {
                pass(path, "broken symbolic link (\(Self.linkText(path) ?? "?"))")
                return .passedOver
            }
            if isInsideTree(target) || isAncestor(target, of: resolvedRoot) {
                pass(path, "symbolic link back into the data set's folder (to \(describe(target))); "
                     + "what it points at is read from its own place, never twice or under another class")
                return .passedOver
            }
            guard stat(path, &info) == 0 else { return .file }
            if info.st_mode & S_IFMT == S_IFDIR, let parent, isAncestor(target, of: parent) {
                pass(path, "symbolic link to a folder that contains it (\(target)): a loop")
                return .passedOver
            }
        }
        return info.st_mode & S_IFMT == S_IFDIR ? .directory : .file
    }

    /// Registers the directory at `path`; false (and recorded) when the walk already visited it by
    /// another path (`first` is then that path).
    mutating func enter(_ path: String) -> (entered: Bool, first: String?) {
        guard let id = Self.id(path) else { return (true, nil) }
        if let first = directories[id] {
            pass(path, "the same folder as \(first) (reached twice, through a link or mount); read once")
            return (false, first)
        }
        directories[id] = path
        return (true, nil)
    }

    /// Registers the file at `path`; false (and recorded) when the walk already took it by another
    /// name, such as a hard link.
    mutating func take(_ path: String) -> Bool {
        guard let id = Self.id(path) else { return true }   // unreadable: the decoder names it
        if let first = files[id] {
            pass(path, "the same file as \(first) (a hard link or second name); read once")
            return false
        }
        files[id] = path
        return true
    }

    /// Files below the class or split folder `folder` (relative to it, sorted by name at each
    /// level), every directory once. Hidden entries (names starting with ".") are left out silently.
    /// Throws when the walk already visited `folder` by another path: one folder cannot be two
    /// classes, or in both splits.
    mutating func files(in folder: String) throws -> [String] {
        let (entered, first) = enter(folder)
        guard entered else {
            skipped.removeLast()
            throw DataError(.layout, path: folder, "is the same folder as \(first ?? "another") (through a link or mount): "
                            + "one folder cannot be two classes or in both splits")
        }
        return try contents(of: folder)
    }

    private mutating func contents(of folder: String) throws -> [String] {
        guard let resolved = Self.resolve(folder) else { return [] }
        var result: [String] = []
        for name in try LayoutScanner.listFolder(folder) where !name.hasPrefix(".") {
            let path = folder + "/" + name
            switch classify(path, in: resolved) {
            case .passedOver: continue
            case .directory: if enter(path).entered { result += try contents(of: path).map { name + "/" + $0 } }
            case .file: result.append(name)
            }
        }
        return result
    }

    mutating func pass(_ path: String, _ reason: String) {
        skipped.append(SkippedFile(path: path, reason: reason))
    }

    func isInsideTree(_ resolved: String) -> Bool {
        resolved == resolvedRoot || resolved.hasPrefix(resolvedRoot == "/" ? "/" : resolvedRoot + "/")
    }

    /// Whether `a` is `b` or a folder above it (both resolved).
    func isAncestor(_ a: String, of b: String) -> Bool {
        a == b || a == "/" || b.hasPrefix(a + "/")
    }

    /// A resolved path as a person finds it: relative to the root as given when inside the tree.
    func describe(_ resolved: String) -> String {
        if resolved == resolvedRoot { return root }
        if resolved.hasPrefix(resolvedRoot + "/") { return root + "/" + resolved.dropFirst(resolvedRoot.count + 1) }
        return resolved
    }

    static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func id(_ path: String) -> FileID? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    static func linkText(_ path: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: path)
    }
}
