/// Suggestions for a mistyped name ("GPIO 17" for "GPIO17"): the candidates closest to it by
/// case-insensitive edit distance, nearest first.
package enum NearMatch {
    /// Up to `limit` candidates within a distance of a third of the name's length (at least 2),
    /// or that start with the name (or the name with them).
    package static func suggestions(for name: String, in candidates: [String], limit: Int = 5) -> [String] {
        let target = Array(name.lowercased())
        let threshold = max(2, target.count / 3)
        let scored = candidates.compactMap { candidate -> (String, Int)? in
            guard !candidate.isEmpty else { return nil }
            let lowered = Array(candidate.lowercased())
            let squeezed = lowered.filter { $0 != "_" && $0 != "-" && $0 != " " }
            let squeezedTarget = target.filter { $0 != "_" && $0 != "-" && $0 != " " }
            // A truncated name ("auto-relock" for "auto-relock-seconds") is near too.
            if target.count >= 3, lowered.starts(with: target) || target.starts(with: lowered) {
                return (candidate, 1)
            }
            let distance = min(distanceBetween(target, lowered), distanceBetween(squeezedTarget, squeezed))
            return distance <= threshold ? (candidate, distance) : nil
        }
        return scored.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(limit).map(\.0)
    }

    /// Levenshtein distance.
    package static func distanceBetween(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
