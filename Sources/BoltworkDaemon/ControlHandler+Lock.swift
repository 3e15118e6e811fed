import BoltworkControl
import BoltworkLock
import Foundation

// Status, lock and unlock, the operating mode, the wrong-code lockout and the battery.
extension ControlHandler {
    static func status(_ context: ControlContext) throws(ControlFailure) -> JSONValue {
        var fields = encode(context.lock.controller.status())
        let recent = try store { () throws(StoreError) in
            try context.lock.store.auditRecords(AuditQuery(limit: 5))
        }
        fields["recent"] = .array(recent.map { encode($0) })
        fields["protocol"] = .integer(ControlProtocol.version)
        return .object(fields)
    }

    static func encode(_ status: LockStatus) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [
            "bolt": .string("\(status.bolt)"),
            "mode": .string(status.mode.rawValue),
            "hasAdminCode": .bool(status.hasAdminCode),
            "wrongCodes": .integer(status.lockout.consecutiveFailures),
            "keypadDisabled": .bool(status.lockout.keypadDisabled),
        ]
        if let door = status.door { fields["door"] = .string(door == .closed ? "closed" : "open") }
        if let battery = status.battery {
            fields["battery"] = .object([
                "percent": .number(battery.percent), "millivolts": .integer(battery.millivolts),
            ])
        }
        if let level = status.batteryLevel { fields["batteryLevel"] = .string(level.rawValue) }
        if let fault = status.gaugeFault { fields["gaugeFault"] = .string(fault) }
        if let until = status.lockout.lockedUntil {
            fields["lockedOutUntil"] = .string(ISO8601DateFormatter().string(from: until))
        }
        return fields
    }

    static func move(_ context: ControlContext) throws(ControlFailure) -> JSONValue {
        let controller = context.lock.controller
        let locking = context.request.command == "lock"
        let code = try context.optionalString("code")
        if locking, code != nil { throw ControlContext.bad("lock takes no code") }
        let outcome = wait { completion in
            if locking {
                controller.requestLock(source: .remote, completion: completion)
            } else {
                controller.requestUnlock(source: .remote, code: code, completion: completion)
            }
        }
        guard let result = outcome else {
            throw ControlFailure(code: "internal", message: "the request did not complete")
        }
        switch result {
        case .done(let state):
            return .object(["bolt": .string("\(state)")])
        case .refused(let reason, let detail):
            throw ControlFailure(code: reason.rawValue, message: detail)
        case .failed(let state, let detail):
            throw ControlFailure(code: "move-failed", message: "\(detail) (bolt \(state))")
        }
    }

    static func mode(_ context: ControlContext) throws(ControlFailure) -> JSONValue {
        let controller = context.lock.controller
        if let text = try context.optionalString("mode") {
            guard let mode = OperatingMode(rawValue: text) else {
                throw ControlContext.bad("unknown mode '\(text)': give normal, vacation, privacy or passage")
            }
            try access { () throws(AccessError) in try controller.setMode(mode, by: context.actor) }
        }
        let mode = try access { () throws(AccessError) in try controller.access.mode() }
        return .object(["mode": .string(mode.rawValue)])
    }

    static func lockoutStatus(_ context: ControlContext) throws(ControlFailure) -> JSONValue {
        let access = context.lock.controller.access
        let state = try Self.access { () throws(AccessError) in try access.lockoutState() }
        let now = context.lock.wallClock.now
        var fields: [String: JSONValue] = [
            "wrongCodes": .integer(state.consecutiveFailures),
            "lockoutCount": .integer(state.lockoutCount),
            "keypadDisabled": .bool(state.keypadDisabled),
            "threshold": .integer(access.configuration.lockoutThreshold),
            "keypadDisableThreshold": .integer(access.configuration.keypadDisableThreshold),
            "lockedOut": .bool(false),
        ]
        if let until = state.lockedUntil {
            fields["lockedOutUntil"] = .string(ControlText.iso8601(until, timeZone: context.timeZone))
            if until > now {
                fields["lockedOut"] = .bool(true)
                fields["retryAfterSeconds"] = .integer(Int(until.timeIntervalSince(now).rounded(.up)))
            }
        }
        return .object(fields)
    }

    static func resetLockout(_ context: ControlContext) throws(ControlFailure) -> JSONValue {
        let controller = context.lock.controller
        try access { () throws(AccessError) in try controller.access.resetLockout(by: context.actor) }
        controller.reportNewRecords()
        return try lockoutStatus(context)
    }

    static func battery(_ context: ControlContext) -> JSONValue {
        let policy = context.lock.config
        var fields: [String: JSONValue] = [
            "present": .bool(context.lock.controller.battery != nil),
            "thresholds": .object([
                "low": .integer(policy.batteryLowPercent),
                "critical": .integer(policy.batteryCriticalPercent),
                "reserve": .integer(policy.batteryReservePercent),
                "reserveMillivolts": .integer(policy.batteryReserveMillivolts),
            ]),
        ]
        guard let monitor = context.lock.controller.battery else { return .object(fields) }
        fields["level"] = .string(monitor.level.rawValue)
        if let fault = monitor.fault { fields["gaugeFault"] = .string(fault) }
        if let reading = monitor.latestReading {
            fields["percent"] = .number((reading.percent * 10).rounded() / 10)
            fields["millivolts"] = .integer(reading.millivolts)
            if let rate = reading.ratePercentPerHour { fields["ratePercentPerHour"] = .number(rate) }
            if let current = reading.averageMilliamps { fields["averageMilliamps"] = .integer(current) }
            if let health = reading.healthPercent { fields["healthPercent"] = .integer(health) }
        }
        return .object(fields)
    }
}
