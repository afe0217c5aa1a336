//! One way to ask work to stop, shared by every stage: the engine's runs, datagen's growth and
//! the capacity study all take a [`Cancel`]. Ctrl-C cancels the binary's; a capacity step that is
//! clearly broken cancels a [`child`](Cancel::child) of it, which ends that step only.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

type Hook = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    next_hook: AtomicU64,
    hooks: Mutex<Vec<(u64, Hook)>>,
    /// Removes this one's hook from its parent when the last clone is dropped.
    parent: OnceLock<(Cancel, u64)>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some((parent, id)) = self.parent.take() {
            parent.remove_hook(id);
        }
    }
}

/// Cancellation: cheap to clone (every clone is the same token), checked by polling
/// ([`is_cancelled`](Cancel::is_cancelled)) or by a hook that wakes what waits.
#[derive(Clone, Default)]
pub struct Cancel {
    inner: Arc<Inner>,
}

impl fmt::Debug for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancel")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Removes its hook when dropped.
#[must_use = "the hook is removed when the guard is dropped"]
pub struct HookGuard {
    cancel: Cancel,
    id: u64,
}

impl fmt::Debug for HookGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookGuard").field("id", &self.id).finish()
    }
}

impl Drop for HookGuard {
    fn drop(&mut self) {
        self.cancel.remove_hook(self.id);
    }
}

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the work to stop; runs every hook once.
    pub fn cancel(&self) {
        if self.inner.cancelled.swap(true, Ordering::SeqCst) {
            return;
        }
        // Called outside the lock: a hook may cancel (or drop) tokens linked to this one.
        let hooks: Vec<Hook> = self
            .inner
            .hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(_, h)| h.clone())
            .collect();
        for hook in hooks {
            hook();
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Calls `hook` when this is cancelled (at once if it already is), until the guard drops.
    pub fn on_cancel(&self, hook: impl Fn() + Send + Sync + 'static) -> HookGuard {
        let id = self.add_hook(Arc::new(hook));
        HookGuard {
            cancel: self.clone(),
            id,
        }
    }

    /// A token cancelled with this one, that can also be cancelled alone.
    pub fn child(&self) -> Cancel {
        let child = Cancel::new();
        // A weak link: the parent's hook must not keep the child alive.
        let weak = Arc::downgrade(&child.inner);
        let id = self.add_hook(Arc::new(move || {
            if let Some(inner) = weak.upgrade() {
                Cancel { inner }.cancel();
            }
        }));
        let _ = child.inner.parent.set((self.clone(), id));
        child
    }

    fn add_hook(&self, hook: Hook) -> u64 {
        let id = self.inner.next_hook.fetch_add(1, Ordering::SeqCst);
        if self.is_cancelled() {
            hook();
        }
        self.inner
            .hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((id, hook));
        id
    }

    fn remove_hook(&self, id: u64) {
        self.inner
            .hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(i, _)| *i != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn hooks_run_once_and_children_follow_their_parent_only() {
        let parent = Cancel::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let _guard = parent.on_cancel(move || {
            seen.fetch_add(1, Ordering::SeqCst);
        });
        let child = parent.child();
        let sibling = parent.child();
        child.cancel();
        assert!(child.is_cancelled());
        assert!(!parent.is_cancelled() && !sibling.is_cancelled());
        parent.cancel();
        parent.cancel();
        assert!(sibling.is_cancelled());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // A child of a cancelled token starts cancelled.
        assert!(parent.child().is_cancelled());
    }

    #[test]
    fn a_dropped_child_leaves_no_hook_behind() {
        let parent = Cancel::new();
        for _ in 0..100 {
            let _ = parent.child();
        }
        assert_eq!(parent.inner.hooks.lock().unwrap().len(), 0);
    }
}
