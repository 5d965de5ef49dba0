import ImagePrepOCI

/// Destination tags found absent in this run, each remembered until the copy to it: `prepare`
/// asks whether an image is at the destination before it copies it, and the copy does not
/// ask again. Only absence is remembered: a stale "absent" costs a copy that was not needed,
/// never a copy that is skipped.
actor ManifestLookups {
    private var absent: Set<String> = []

    func recordAbsent(_ reference: Reference) {
        absent.insert(reference.description)
    }

    /// Whether `reference` was just found absent; forgotten once asked.
    func takeAbsent(_ reference: Reference) -> Bool {
        absent.remove(reference.description) != nil
    }
}
