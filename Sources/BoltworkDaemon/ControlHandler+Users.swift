import BoltworkControl
import BoltworkLock
import Foundation

// Users, their codes and their schedules. Every change goes through the access layer, which
// records it in the audit log with the peer's account as the actor.
extension ControlHandler {
    static func listUsers(_ context: ControlContext) throws(ControlFailure) -> JSONValue {
        let users = try allUsers(context)
        return .object(["users": .array(users.map { encode($0, context) })])
    }

    static func showUser(_ context: ControlContext) throws(ControlFailure) -> JSONValue {
        .object(["user": encode(try resolveUser(context), context)])
    }

    static func addUser(_ context: ControlContext) throws(ControlFailure) -> JSONValue {
        let name = try context.string("name").trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, name.count <= 64, !name.contains(where: \.isNewline) else {
            throw ControlContext.bad("a user's name is 1 to 64 characters on one line")
        }
        guard !name.hasPrefix("#"), Int64(name) == nil else {
            throw ControlContext.bad("'\(name)' would read as a user id: choose a name that is not a number")
        }
        if try allUsers(context).contains(where: { $0.name == name }) {
            throw ControlFailure(
                code: "duplicate-user",
                message: "a user named '\(name)' exists already: choose another name (one person per user)")
        }
        let roleText = try context.optionalString("role") ?? "resident"
        guard let role = UserRole(rawValue: roleText) else {
            throw ControlContext.bad("unknown role '\(roleText)': give admin, resident, guest or service")
        }
        let kind = try parseKind(context)
        let schedules = try parseSchedules(context)
        let code = try context.optionalString("code")
        let controller = context.lock.controller
        let user = try access { () throws(AccessError) in
            try controller.access.addUser(
                name: name, role: role, kind: kind, schedules: schedules, pin: code, by: context.actor)
        }
        controller.reportNewRecords()
        return .object(["user": encode(user, context)])
    }

    static func enableUser(_ context: ControlContext) throws(ControlFailure) -> JSONValue {
        let user = try resolveUser(context)
        let controller = context.lock.controller
        let enable = context.request.command == "users.enable"
        let changed = try access { () throws(AccessError) in
            enable
                ? try controller.access.enableUser(user.id, by: context.actor)
                : try controller.access.disableUser(user.id, by: context.actor)
        }
        controller.reportNewRecords()
        return .object(["user": encode(changed, context)])
    }

    static func removeUser(_ context: ControlContext) throws(ControlFailure) -> JSONValue {
        let user = try resolveUser(context)
        let controller = context.lock.controller
        try access { () throws(AccessError) in try controller.access.removeUser(user.id, by: context.actor) }
        controller.reportNewRecords()
        return .object(["removed": encode(user, context)])
    }

    static func setCode(_ context: ControlContext) throws(ControlFailure) -> JSONValue {
        let user = try resolveUser(context)
        let controller = context.lock.controller
        let changed: User
        if context.request.command == "code.set" {
            let code = try context.string("code")
            changed = try access { () throws(AccessError) in
                try controller.access.setCode(code, for: user.id, by: context.actor)
            }
        } else {
            changed = try access { () throws(AccessError) in
                try controller.access.clearCode(for: user.id, by: context.actor)
            }
        }
        controller.reportNewRecords()
        return .object(["user": encode(changed, context)])
    }

    static func changeSchedule(_ context: ControlContext) throws(ControlFailure) -> JSONValue {
        let user = try resolveUser(context)
        var schedules: [AccessSchedule] = []
        if context.request.command == "schedule.add" {
            let added = try parseSchedules(context)
            guard !added.isEmpty else {
                throw ControlContext.bad(
                    "give 'schedules': texts like mon-fri 08:00-17:00 or 2026-12-01..2026-12-24")
            }
            schedules = user.schedules + added.filter { !user.schedules.contains($0) }
        }
        let controller = context.lock.controller
        let changed = try access { () throws(AccessError) in
            try controller.access.updateUser(user.id, schedules: schedules, by: context.actor)
        }
        controller.reportNewRecords()
        return .object(["user": encode(changed, context)])
    }

    // MARK: Helpers

    static func allUsers(_ context: ControlContext) throws(ControlFailure) -> [User] {
        try store { () throws(StoreError) in try context.lock.store.users() }
    }

    /// The user named by the `user` argument: an id (`7`, `#7`) or a unique name.
    static func resolveUser(_ context: ControlContext, key: String = "user") throws(ControlFailure) -> User {
        let text = try context.string(key)
        let users = try allUsers(context)
        if let user = user(text, in: users) { return user }
        let named = users.filter { $0.name == text }
        if named.count > 1 {
            throw ControlFailure(
                code: "ambiguous-user",
                message:
                    "several users are named '\(text)' (\(named.map { "\($0.id)" }.joined(separator: ", "))): "
                    + "give the id instead")
        }
        throw ControlFailure(
            code: "unknown-user", message: "no user '\(text)': `boltctl users list` shows the users")
    }

    /// The user `text` names in `users`, by id or by a unique name.
    static func user(_ text: String, in users: [User]) -> User? {
        let digits = text.hasPrefix("#") ? String(text.dropFirst()) : text
        if let number = Int64(digits) { return users.first { $0.id.rawValue == number } }
        let named = users.filter { $0.name == text }
        return named.count == 1 ? named[0] : nil
    }

    static func parseKind(_ context: ControlContext) throws(ControlFailure) -> UserKind {
        let text = try context.optionalString("kind") ?? "permanent"
        let expires = try context.optionalString("expiresAfter")
        if expires != nil, text != "expiring" {
            throw ControlContext.bad("'expiresAfter' goes with kind expiring")
        }
        switch text {
        case "permanent": return .permanent
        case "disposable", "single-use": return .disposable
        case "duress": return .duress
        case "emergency": return .emergency
        case "expiring":
            guard let expires else {
                throw ControlContext.bad("an expiring code needs 'expiresAfter', a span like 30m, 2h or 1d")
            }
            let seconds: Int
            do { seconds = try ControlText.span(expires) } catch {
                throw ControlContext.bad(error.description)
            }
            return .expiring(minutes: max(1, (seconds + 59) / 60))
        default:
            throw ControlContext.bad(
                "unknown kind '\(text)': give permanent, disposable, expiring, duress or emergency")
        }
    }

    static func parseSchedules(_ context: ControlContext) throws(ControlFailure) -> [AccessSchedule] {
        let now = context.lock.wallClock.now
        var schedules: [AccessSchedule] = []
        for text in try context.strings("schedules") {
            do {
                schedules.append(try ControlText.schedule(text, now: now, timeZone: context.timeZone))
            } catch {
                throw ControlContext.bad(error.description)
            }
        }
        return schedules
    }

    static func encode(_ user: User, _ context: ControlContext) -> JSONValue {
        let zone = context.timeZone
        func time(_ date: Date) -> JSONValue { .string(ControlText.iso8601(date, timeZone: zone)) }
        var fields: [String: JSONValue] = [
            "id": .integer(user.id.rawValue), "name": .string(user.name), "role": .string(user.role.rawValue),
            "enabled": .bool(user.isEnabled), "hasCode": .bool(user.credential != nil),
            "createdAt": time(user.createdAt), "useCount": .integer(user.useCount),
            "schedules": .array(user.schedules.map { encode($0, zone) }),
        ]
        switch user.kind {
        case .permanent: fields["kind"] = .string("permanent")
        case .disposable: fields["kind"] = .string("disposable")
        case .duress: fields["kind"] = .string("duress")
        case .emergency: fields["kind"] = .string("emergency")
        case .expiring(let minutes):
            fields["kind"] = .string("expiring")
            fields["expiresAfterMinutes"] = .integer(minutes)
            if let first = user.firstUsedAt {
                fields["expiresAt"] = time(first.addingTimeInterval(Double(minutes) * 60))
            }
        }
        if let date = user.firstUsedAt { fields["firstUsedAt"] = time(date) }
        if let date = user.lastUsedAt { fields["lastUsedAt"] = time(date) }
        if let date = user.lastTestedAt { fields["lastTestedAt"] = time(date) }
        return .object(fields)
    }

    static func encode(_ schedule: AccessSchedule, _ zone: TimeZone) -> JSONValue {
        var fields: [String: JSONValue] = ["text": .string(ControlText.describe(schedule, timeZone: zone))]
        switch schedule {
        case .weekly(let days, let start, let end):
            let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            fields["type"] = .string("weekly")
            fields["days"] = .array(days.sorted().map { .string(names[$0.rawValue - 1]) })
            fields["startMinute"] = .integer(start)
            fields["endMinute"] = .integer(end)
        case .dateRange(let start, let end):
            fields["type"] = .string("dates")
            fields["from"] = .string(ControlText.iso8601(start, timeZone: zone))
            fields["until"] = .string(ControlText.iso8601(end, timeZone: zone))
        }
        return .object(fields)
    }
}
