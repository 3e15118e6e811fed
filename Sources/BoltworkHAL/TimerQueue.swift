/// Work ordered by deadline, then by submission order: the queue behind ``SystemClock`` and
/// the simulation's virtual clock, so both run work in the same order.
package struct TimerQueue: Sendable {
    /// One queued item.
    package struct Item: Sendable {
        /// When the item becomes due.
        package var deadline: MonotonicInstant
        /// Submission order; breaks ties between equal deadlines.
        package var id: UInt64
        /// The work to run.
        package var work: @Sendable () -> Void
    }

    // A binary min-heap on (deadline, id); cancelled ids are removed eagerly.
    private var heap: [Item] = []
    private var nextID: UInt64 = 0

    /// Creates an empty queue.
    package init() {}

    /// The number of queued items.
    package var count: Int { heap.count }

    /// The earliest deadline, if any item is queued.
    package var earliestDeadline: MonotonicInstant? { heap.first?.deadline }

    /// Queues `work` and returns its id.
    package mutating func insert(deadline: MonotonicInstant, work: @escaping @Sendable () -> Void) -> UInt64 {
        nextID &+= 1
        heap.append(Item(deadline: deadline, id: nextID, work: work))
        siftUp(heap.count - 1)
        return nextID
    }

    /// Removes and returns the earliest item.
    package mutating func popFirst() -> Item? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let item = heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
        return item
    }

    /// Removes the item with `id`, if it is still queued.
    package mutating func remove(id: UInt64) {
        guard let index = heap.firstIndex(where: { $0.id == id }) else { return }
        heap.swapAt(index, heap.count - 1)
        heap.removeLast()
        if index < heap.count {
            siftDown(index)
            siftUp(index)
        }
    }

    /// Drops every item.
    package mutating func removeAll() { heap.removeAll() }

    private func precedes(_ a: Int, _ b: Int) -> Bool {
        (heap[a].deadline, heap[a].id) < (heap[b].deadline, heap[b].id)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(child, parent) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && precedes(left, smallest) { smallest = left }
            if right < heap.count && precedes(right, smallest) { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
