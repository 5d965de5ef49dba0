import ImagePrepConcurrency
import ImagePrepFiles

/// What a run leaves behind when a signal ends it.
public enum RunCleanup {
    /// From now on SIGTERM, SIGINT and SIGHUP remove the run's temporary files and
    /// directories (buildah's private `auth.json` and its directory, build directories, rpm
    /// database copies, half-written outputs and image-serve blobs), then end the process by
    /// that signal. The command line calls it once, first.
    public static func removeTemporariesOnSignals() {
        RunTemporaries.removeOnSignals()
    }
}
