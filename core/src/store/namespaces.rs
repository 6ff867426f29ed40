//! Proposing namespace writes: create or update, and delete.

use super::*;

impl Store {
    // ---- namespaces ----

    /// Creates or updates a namespace (Nomad's `PUT /v1/namespace/<name>`):
    /// `name` is the path's (empty: the body's `Name`); a body naming
    /// another is refused. An update keeps `CreateIndex`. Returns the index
    /// of the write.
    pub fn upsert_namespace(
        &self,
        name: &str,
        mut ns: Namespace,
        opts: &WriteOptions,
    ) -> Result<u64> {
        self.check_region(opts.region.as_deref())?;
        if ns.name.is_empty() {
            ns.name = name.to_string();
        } else if !name.is_empty() && ns.name != name {
            return Err(Error::invalid_field(
                "Name",
                format!("{:?} is not the namespace of the path ({name:?})", ns.name),
            ));
        }
        validate_namespace(&ns)?;
        let applied = self.commit(Command::NamespaceUpsert {
            namespaces: vec![ns],
        })?;
        Ok(applied.index)
    }

    /// [`Store::upsert_namespace`] from a JSON body.
    pub fn upsert_namespace_json(
        &self,
        name: &str,
        body: &[u8],
        opts: &WriteOptions,
    ) -> Result<u64> {
        let ns = crate::structs::decode::<Namespace>(body, &self.config.limits)?;
        self.upsert_namespace(name, ns, opts)
    }

    /// Deletes a namespace (Nomad's `DELETE /v1/namespace/<name>`). Refused
    /// ([`Error::Conflict`]) for `default` and for a namespace that holds a
    /// job, stopped or not (purge those first); a missing one is
    /// [`Error::NotFound`]. Decided when the write applies, so a register
    /// racing it cannot leave a job in a deleted namespace.
    pub fn delete_namespace(&self, name: &str, opts: &WriteOptions) -> Result<u64> {
        self.check_region(opts.region.as_deref())?;
        let applied = self.commit(Command::NamespaceDelete {
            names: vec![name.to_string()],
        })?;
        Ok(applied.index)
    }
}
