import BoltworkLock
import GRDB
