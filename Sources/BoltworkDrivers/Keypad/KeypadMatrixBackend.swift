import BoltworkHAL

/// The hardware side of a key matrix: the few operations the scanning logic of ``MatrixKeypad``
/// needs, in the shape of Zephyr's `input_kbd_matrix` API (drive column, read rows, detect mode).
///
/// Columns are "active" when they drive the level that a closed key passes to its row; rows are
/// "active" when a closed key connects them to an active column. Polarity, pulls and drive modes
/// are the backend's business. ``GPIOKeypadMatrix`` implements it on GPIO line requests; a
/// port-expander keypad implements the same protocol over I2C and reuses the scanning, debounce,
/// ghost and stuck-key logic unchanged.
///
/// ``MatrixKeypad`` calls these methods only from work on its clock (and from `start`/`stop`),
/// one at a time.
public protocol KeypadMatrixBackend: AnyObject, Sendable {
    /// Number of rows (inputs).
    var rowCount: Int { get }
    /// Number of columns (outputs).
    var columnCount: Int { get }
    /// Makes `column` active and every other column inactive.
    func driveColumn(_ column: Int) throws(DeviceError)
    /// Makes every column inactive (released: nothing is driven against anything).
    func deactivateAllColumns() throws(DeviceError)
    /// Makes every column active: the idle state, in which any key press changes a row.
    func activateAllColumns() throws(DeviceError)
    /// Reads every row in one transfer: `true` where the row is active.
    func readRows() throws(DeviceError) -> [Bool]
    /// Turns row-change detection on (idle: rows wait for edges) or off (while scanning).
    func setDetectMode(_ enabled: Bool) throws(DeviceError)
    /// Installs the function called, on the backend's clock, when a row changes while detection
    /// is on (replacing any earlier one), or removes it with `nil`.
    func setRowChangeHandler(_ handler: (@Sendable () -> Void)?)
}

/// A key matrix on GPIO lines: rows are inputs with a pull towards "inactive" and edge detection
/// on both edges (no kernel debounce: ``MatrixKeypad`` debounces), columns are outputs.
///
/// Inactive columns are never driven, so two columns are never driven against each other through
/// pressed keys:
/// - ``InactiveColumns/released``: columns are open-drain (open-source for an active-high
///   matrix); inactive means released, high impedance.
/// - ``InactiveColumns/inputs``: columns are push-pull outputs while active and are switched to
///   inputs with `reconfigure` while inactive (the Linux `matrix_keypad` default).
///
/// Ownership: created from two existing requests, it only borrows them (it installs an edge
/// handler on the rows request and removes it in ``release()``; releasing the lines stays the
/// caller's job). Created from a chip and line names, it owns the requests it made and
/// ``release()`` releases them.
public final class GPIOKeypadMatrix: KeypadMatrixBackend {
    /// What an inactive column is electrically.
    public enum InactiveColumns: Sendable, Hashable {
        /// Open-drain (active-low) or open-source (active-high) outputs: inactive is released.
        case released
        /// Push-pull while active, switched to an input (high impedance) with `reconfigure`
        /// while inactive.
        case inputs
    }

    /// How the matrix is wired.
    public struct Wiring: Sendable, Hashable {
        /// The level an active column drives and a pressed key passes to its row. Active-low is
        /// typical: rows are pulled up and an active column pulls low.
        public var activeLevel: PinLevel
        /// What inactive columns are.
        public var inactiveColumns: InactiveColumns

        /// Creates a wiring; the defaults describe an active-low matrix with open-drain columns.
        public init(activeLevel: PinLevel = .low, inactiveColumns: InactiveColumns = .released) {
            self.activeLevel = activeLevel
            self.inactiveColumns = inactiveColumns
        }

        /// The settings a row line must be requested with: an input pulled to the inactive level,
        /// active-low for an active-low matrix, edges on both edges, no debounce.
        public var rowSettings: LineSettings {
            .input(
                bias: activeLevel == .low ? .pullUp : .pullDown, activeLow: activeLevel == .low,
                edges: .both, debounce: nil)
        }

        /// The settings of a column line that is active (`true`) or inactive.
        public func columnSettings(active: Bool) -> LineSettings {
            switch inactiveColumns {
            case .released:
                return .output(
                    initial: LineValue(active), activeLow: activeLevel == .low,
                    drive: activeLevel == .low ? .openDrain : .openSource)
            case .inputs:
                return active
                    ? .output(initial: .active, activeLow: activeLevel == .low, drive: .pushPull)
                    : .input(bias: .disabled, activeLow: activeLevel == .low)
            }
        }
    }

    private struct State {
        /// Each column's state as last written; nil when unknown (at start, after an error).
        var columns: [Bool]?
        var detect = false
        var handler: (@Sendable () -> Void)?
        var released = false
    }

    /// The device name used in errors.
    public let name: String
    /// The wiring.
    public let wiring: Wiring
    /// The rows request (one line per row, in row order).
    public let rows: any GPIOLineRequest
    /// The column requests, in column order: one request holding every column, or, for
    /// ``InactiveColumns/inputs`` wiring requested from a chip, one request per column (libgpiod
    /// 1.6 can only reconfigure the lines of one request together, to the same settings).
    public let columnRequests: [any GPIOLineRequest]
    /// For each column, its request in ``columnRequests`` and its index in that request.
    private let columnPlaces: [(request: Int, index: Int)]
    private let ownsRequests: Bool
    private let state = Protected(State())

    /// Number of rows.
    public var rowCount: Int { rows.offsets.count }
    /// Number of columns.
    public var columnCount: Int { columnPlaces.count }

    /// Borrows two requests made by the caller with ``Wiring/rowSettings`` and
    /// ``Wiring/columnSettings(active:)``. The caller keeps ownership and releases them.
    public convenience init(
        rows: any GPIOLineRequest, columns: any GPIOLineRequest, wiring: Wiring = Wiring(),
        name: String = "keypad"
    ) {
        self.init(rows: rows, columnRequests: [columns], wiring: wiring, name: name, owns: false)
    }

    /// Requests the row and column lines on `chip` with the right settings (columns start
    /// active: the idle state) and owns them: ``release()`` releases them.
    public convenience init(
        chip: any GPIOChip, rows rowLines: [GPIOLineID], columns columnLines: [GPIOLineID],
        wiring: Wiring = Wiring(), consumer: String = "boltwork-keypad", name: String = "keypad"
    ) throws(DeviceError) {
        guard !rowLines.isEmpty, !columnLines.isEmpty else {
            throw DeviceError(
                .configuration, device: name,
                detail:
                    "a key matrix needs at least one row and one column (got \(rowLines.count) rows, "
                    + "\(columnLines.count) columns)")
        }
        let rowRequest: any GPIOLineRequest
        do {
            rowRequest = try chip.requestLines(
                rowLines.map { LineConfig($0, wiring.rowSettings) }, consumer: consumer)
        } catch {
            throw DeviceError(
                .hardware, device: name,
                detail: "cannot request the keypad rows \(rowLines.map(\.description))", underlying: error)
        }
        // Columns switched between output and input are requested one per column, so each can
        // be reconfigured on its own with either libgpiod major.
        let groups: [[GPIOLineID]] =
            wiring.inactiveColumns == .inputs ? columnLines.map { [$0] } : [columnLines]
        var columnRequests: [any GPIOLineRequest] = []
        for group in groups {
            do {
                columnRequests.append(
                    try chip.requestLines(
                        group.map { LineConfig($0, wiring.columnSettings(active: true)) }, consumer: consumer)
                )
            } catch {
                for request in columnRequests { request.release() }
                rowRequest.release()
                throw DeviceError(
                    .hardware, device: name,
                    detail: "cannot request the keypad columns \(group.map(\.description))",
                    underlying: error)
            }
        }
        self.init(rows: rowRequest, columnRequests: columnRequests, wiring: wiring, name: name, owns: true)
        state.withLock { $0.columns = Array(repeating: true, count: columnLines.count) }
    }

    private init(
        rows: any GPIOLineRequest, columnRequests: [any GPIOLineRequest], wiring: Wiring, name: String,
        owns: Bool
    ) {
        self.rows = rows
        self.columnRequests = columnRequests
        self.columnPlaces = columnRequests.indices.flatMap { request in
            columnRequests[request].offsets.indices.map { (request: request, index: $0) }
        }
        self.wiring = wiring
        self.name = name
        self.ownsRequests = owns
        rows.setEdgeHandler { [weak self] _ in self?.rowEdge() }
    }

    private func rowEdge() {
        let handler = state.withLock { state in state.detect && !state.released ? state.handler : nil }
        handler?()
    }

    /// Makes `column` active and the others inactive, writing only the lines that change.
    public func driveColumn(_ column: Int) throws(DeviceError) {
        guard (0..<columnCount).contains(column) else {
            throw DeviceError(
                .configuration, device: name,
                detail: "no column \(column): the matrix has \(columnCount) columns")
        }
        try setColumns((0..<columnCount).map { $0 == column }, what: "drive column \(column)")
    }

    /// Makes every column inactive.
    public func deactivateAllColumns() throws(DeviceError) {
        try setColumns(Array(repeating: false, count: columnCount), what: "release the columns")
    }

    /// Makes every column active.
    public func activateAllColumns() throws(DeviceError) {
        try setColumns(Array(repeating: true, count: columnCount), what: "activate the columns")
    }

    /// Reads the rows in one call.
    public func readRows() throws(DeviceError) -> [Bool] {
        let values: [LineValue]
        do {
            values = try rows.values()
        } catch {
            throw DeviceError(
                .hardware, device: name, detail: "cannot read the keypad rows (lines \(rows.offsets))",
                underlying: error)
        }
        guard values.count == rowCount else {
            throw DeviceError(
                .implausible, device: name, detail: "read \(values.count) row values for \(rowCount) rows")
        }
        return values.map(\.isActive)
    }

    /// Turns forwarding of row edges on or off. The rows keep their edge detection in the kernel
    /// (libgpiod 1.6 cannot reconfigure edge lines); edges that arrive while detection is off are
    /// dropped.
    public func setDetectMode(_ enabled: Bool) throws(DeviceError) {
        state.withLock { $0.detect = enabled }
    }

    /// Installs the row-change function.
    public func setRowChangeHandler(_ handler: (@Sendable () -> Void)?) {
        state.withLock { $0.handler = handler }
    }

    /// Stops forwarding edges, removes the edge handler from the rows request and, if this
    /// backend made the requests, releases them. Borrowed requests are left to their owner.
    public func release() {
        let first = state.withLock { state -> Bool in
            defer {
                state.released = true
                state.handler = nil
            }
            return !state.released
        }
        guard first else { return }
        rows.setEdgeHandler(nil)
        if ownsRequests {
            rows.release()
            for request in columnRequests { request.release() }
        }
    }

    private func setColumns(_ target: [Bool], what: String) throws(DeviceError) {
        let current = state.withLock { $0.columns }
        let changed = target.indices.filter { current?[$0] != target[$0] }
        guard !changed.isEmpty else { return }
        for (requestIndex, request) in columnRequests.enumerated() {
            let mine = changed.filter { columnPlaces[$0].request == requestIndex }
            guard !mine.isEmpty else { continue }
            do {
                switch wiring.inactiveColumns {
                case .released:
                    try request.setValues(
                        mine.map { LineValue(target[$0]) }, at: mine.map { columnPlaces[$0].index })
                case .inputs:
                    let columnsOfRequest = columnPlaces.indices.filter {
                        columnPlaces[$0].request == requestIndex
                    }
                    try request.reconfigure(
                        columnsOfRequest.map { wiring.columnSettings(active: target[$0]) })
                }
            } catch {
                state.withLock { $0.columns = nil }
                throw DeviceError(
                    .hardware, device: name, detail: "cannot \(what) (column lines \(request.offsets))",
                    underlying: error)
            }
        }
        state.withLock { $0.columns = target }
    }
}
