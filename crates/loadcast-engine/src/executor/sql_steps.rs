//! What a virtual user does at a SQL step: the statement on its own connection (opened again
//! when the database dropped it), the checks and captures on its rows, and transactions that
//! roll back on the first error and run again after a conflict, up to their retries.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use loadcast_plan::template::Template;
use loadcast_plan::{Capture, CaptureSource, Load, SqlChecks};
use loadcast_stats::{ErrorKind, SqlError};
use tokio::sync::oneshot;

use super::{VirtualUser, Worker};
use crate::recorder::{Outcome, ResponseSummary};
use crate::sql::{SqlAnswer, SqlConnection, cell_text};

/// A pool of `size` connections split among `workers`: worker `i` keeps its share (at least
/// one).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolShare {
    pub size: usize,
    pub workers: usize,
}

impl PoolShare {
    pub(super) fn share(self, index: usize) -> usize {
        let base = self.size / self.workers;
        (base + usize::from(index < self.size % self.workers)).max(1)
    }
}

/// A worker's share of the plan's SQL pool. Users wait for a connection in the order they
/// asked (a connection given back goes to the longest waiter, as an application's pool does),
/// so that no user starves while another keeps taking the same connection.
pub(crate) struct SqlPool {
    state: Rc<PoolState>,
}

struct PoolState {
    size: usize,
    open: Cell<usize>,
    idle: RefCell<Vec<HeldSql>>,
    /// Waiting users: each gets a connection handed over, or `None` when a slot was freed and
    /// it may open one.
    waiters: RefCell<VecDeque<oneshot::Sender<Option<Box<HeldSql>>>>>,
}

impl PoolState {
    /// Hands `held` to the longest waiter still waiting, or keeps it idle.
    fn give_back(&self, held: HeldSql) {
        let mut held = Box::new(held);
        loop {
            let waiter = self.waiters.borrow_mut().pop_front();
            match waiter {
                Some(tx) => match tx.send(Some(held)) {
                    // That waiter gave up (its timeout): the next one.
                    Err(Some(back)) => held = back,
                    _ => return,
                },
                None => {
                    self.idle.borrow_mut().push(*held);
                    return;
                }
            }
        }
    }
}

/// A pool slot: while it exists, its connection counts as open; dropped with the connection
/// (lost, cut off by a timeout), it frees the slot for the longest waiter.
struct Ticket(Rc<PoolState>);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.open.set(self.0.open.get() - 1);
        loop {
            let waiter = self.0.waiters.borrow_mut().pop_front();
            match waiter.map(|tx| tx.send(None)) {
                Some(Err(_)) => continue,
                _ => return,
            }
        }
    }
}

/// A connection a user holds, with its pool slot when it came from the pool.
pub(crate) struct HeldSql {
    connection: SqlConnection,
    /// Which of the plan's databases it is connected to.
    database: usize,
    _ticket: Option<Ticket>,
}

/// The connections a user holds, at most one per database (a user whose scenarios go to two
/// databases keeps one to each, as an application keeps a pool per database).
#[derive(Default)]
pub(crate) struct HeldConnections(Vec<HeldSql>);

impl HeldConnections {
    fn take(&mut self, database: usize) -> Option<HeldSql> {
        let at = self.0.iter().position(|h| h.database == database)?;
        Some(self.0.swap_remove(at))
    }

    fn put(&mut self, held: HeldSql) {
        self.0.push(held);
    }
}

impl SqlPool {
    pub(crate) fn new(size: usize) -> Self {
        Self {
            state: Rc::new(PoolState {
                size,
                open: Cell::new(0),
                idle: RefCell::new(Vec::new()),
                waiters: RefCell::new(VecDeque::new()),
            }),
        }
    }
}

/// A SQL statement with everything its run needs.
#[derive(Debug)]
pub(crate) struct CompiledSql {
    /// The statement's slot in each connection's prepared statements.
    pub slot: usize,
    /// Index of the name results are recorded under.
    pub name: usize,
    pub sql: String,
    pub params: Vec<Template>,
    pub timeout: Duration,
    pub captures: Vec<Capture>,
    pub checks: SqlChecks,
    /// Index of the database it goes to, in [`loadcast_plan::Plan::sql_databases`] order.
    pub database: usize,
}

impl CompiledSql {
    fn keeps_rows(&self) -> bool {
        !self.captures.is_empty() || !self.checks.values.is_empty()
    }
}

#[derive(Debug)]
pub(crate) struct CompiledTransaction {
    pub name: usize,
    pub statements: Vec<CompiledSql>,
    pub retries: u32,
    /// For BEGIN, COMMIT and ROLLBACK: the plan's timeout.
    pub timeout: Duration,
    /// The database its statements go to.
    pub database: usize,
}

/// How a statement fared once it had an answer.
struct Judged {
    error: Option<ErrorKind>,
    /// A capture found nothing: what follows would run without it.
    capture_failed: bool,
}

impl Worker {
    /// A statement outside any transaction, measured like a request. Returns whether the
    /// iteration goes on.
    pub(super) async fn statement(
        &self,
        user: &mut VirtualUser,
        step: &CompiledSql,
        intended: Option<Instant>,
    ) -> bool {
        let sent = Instant::now();
        self.recorder.borrow_mut().sent();
        let result = self.execute(user, step).await;
        let ended = Instant::now();
        let intended = intended.unwrap_or(sent);
        let (result, proceed) = match result {
            Ok(answer) => {
                let judged = self.judge(user, step, &answer, ended - intended.min(sent));
                (Ok(summary(judged.error)), !judged.capture_failed)
            }
            Err(kind) => (Err(kind), step.captures.is_empty()),
        };
        let outcome = Outcome {
            intended,
            sent,
            ended,
            bytes_sent: 0,
            result,
        };
        self.recorder.borrow_mut().record(step.name, &outcome);
        self.release_sql(user, step.database);
        proceed
    }

    /// BEGIN, the statements, COMMIT; ROLLBACK at the first error. A serialization failure or
    /// deadlock runs the whole transaction again, up to its retries; its latency spans them.
    pub(super) async fn transaction(
        &self,
        user: &mut VirtualUser,
        txn: &CompiledTransaction,
        intended: Option<Instant>,
    ) -> bool {
        let sent = Instant::now();
        self.recorder.borrow_mut().sent();
        let mut retried = 0;
        let result = loop {
            match self.transaction_once(user, txn).await {
                Err(ErrorKind::Sql(e)) if e.is_retryable() && retried < txn.retries => {
                    retried += 1;
                    self.recorder.borrow_mut().generator.retries += 1;
                }
                other => break other,
            }
        };
        let ended = Instant::now();
        let (result, proceed) = match result {
            Ok(judged) => (Ok(summary(judged.error)), !judged.capture_failed),
            Err(kind) => (Err(kind), false),
        };
        let outcome = Outcome {
            intended: intended.unwrap_or(sent),
            sent,
            ended,
            bytes_sent: 0,
            result,
        };
        self.recorder.borrow_mut().record(txn.name, &outcome);
        self.release_sql(user, txn.database);
        proceed
    }

    async fn transaction_once(
        &self,
        user: &mut VirtualUser,
        txn: &CompiledTransaction,
    ) -> Result<Judged, ErrorKind> {
        self.control(user, txn.database, "BEGIN", txn.timeout)
            .await?;
        let mut verdict = Judged {
            error: None,
            capture_failed: false,
        };
        for step in &txn.statements {
            let sent = Instant::now();
            let result = self.execute(user, step).await;
            let ended = Instant::now();
            let judged = result.map(|answer| self.judge(user, step, &answer, ended - sent));
            let outcome = Outcome {
                intended: sent,
                sent,
                ended,
                bytes_sent: 0,
                result: judged.as_ref().map(|j| summary(j.error)).map_err(|k| *k),
            };
            self.recorder.borrow_mut().record_part(step.name, &outcome);
            match judged {
                Err(kind) => {
                    self.rollback(user, txn.database, txn.timeout).await;
                    return Err(kind);
                }
                Ok(j) if j.capture_failed => {
                    self.rollback(user, txn.database, txn.timeout).await;
                    return Ok(j);
                }
                Ok(j) => verdict.error = verdict.error.or(j.error),
            }
        }
        if let Err(kind) = self
            .control(user, txn.database, "COMMIT", txn.timeout)
            .await
        {
            self.rollback(user, txn.database, txn.timeout).await;
            return Err(kind);
        }
        Ok(verdict)
    }

    /// The user's connection to `database`; else an idle one of that database's pool, or a
    /// new one while the pool has room (waiting for one when it has none); else, without a
    /// pool, a new one.
    async fn sql_connection(
        &self,
        user: &mut VirtualUser,
        database: usize,
    ) -> Result<HeldSql, ErrorKind> {
        if let Some(held) = user
            .sql
            .take(database)
            .filter(|h| !h.connection.is_closed())
        {
            return Ok(held);
        }
        let Some(pool) = self.sql_pool.get(database) else {
            return Ok(HeldSql {
                connection: self.open_sql(database).await?,
                database,
                _ticket: None,
            });
        };
        let state = &pool.state;
        loop {
            let idle = state.idle.borrow_mut().pop();
            match idle {
                Some(held) if !held.connection.is_closed() => return Ok(held),
                Some(_) => continue,
                None if state.open.get() < state.size => {
                    state.open.set(state.open.get() + 1);
                    let ticket = Ticket(state.clone());
                    return Ok(HeldSql {
                        connection: self.open_sql(database).await?,
                        database,
                        _ticket: Some(ticket),
                    });
                }
                None => {
                    let (tx, rx) = oneshot::channel();
                    state.waiters.borrow_mut().push_back(tx);
                    if let Ok(Some(held)) = rx.await {
                        if !held.connection.is_closed() {
                            return Ok(*held);
                        }
                    }
                }
            }
        }
    }

    async fn open_sql(&self, database: usize) -> Result<SqlConnection, ErrorKind> {
        let Some(connector) = self.sql.get(database) else {
            return Err(ErrorKind::Sql(SqlError::ConnectionLost));
        };
        let c = connector.connect().await?;
        self.recorder.borrow_mut().generator.connections_opened += 1;
        Ok(c)
    }

    /// Open model with a latency limit, before an iteration's first statement: once the user
    /// has a connection (waiting for a pooled one, or opening its own), is it already beyond
    /// the limit? Then pgbench would skip it — pgbench's clients are its connections, and a
    /// transaction that finds none free until too late never starts. The connection goes back.
    pub(super) async fn beyond_limit_once_connected(
        &self,
        user: &mut VirtualUser,
        group: usize,
        database: usize,
        intended: Instant,
    ) -> bool {
        let Load::Open(open) = &self.shape.groups[group].load else {
            return false;
        };
        let Some(limit) = open.latency_limit else {
            return false;
        };
        // A connection that cannot be had is the statement's error to count, not a skip.
        let Ok(held) = self.sql_connection(user, database).await else {
            return false;
        };
        user.sql.put(held);
        if intended.elapsed() > limit {
            self.release_sql(user, database);
            return true;
        }
        false
    }

    /// After a statement or transaction, a pooled connection goes back to its pool.
    fn release_sql(&self, user: &mut VirtualUser, database: usize) {
        if let Some(pool) = self.sql_pool.get(database) {
            if let Some(held) = user.sql.take(database) {
                pool.state.give_back(held);
            }
        }
    }

    /// The statement on the user's connection, within its timeout. A connection cut off by the
    /// timeout has a statement in flight and is dropped (its transaction rolls back with it).
    async fn execute(
        &self,
        user: &mut VirtualUser,
        step: &CompiledSql,
    ) -> Result<SqlAnswer, ErrorKind> {
        let feeders = &self.shape.feeders;
        let params: Vec<String> = step
            .params
            .iter()
            .map(|t| t.render_string(&mut user.data.scope(feeders)))
            .collect();
        let attempt = async {
            let mut held = self.sql_connection(user, step.database).await?;
            let result = held
                .connection
                .execute(step.slot, &step.sql, &params, step.keeps_rows())
                .await;
            keep(user, held, &result);
            result
        };
        match tokio::time::timeout(step.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(ErrorKind::Timeout),
        }
    }

    /// BEGIN or COMMIT, within the transaction's timeout (a connection cut off by it is
    /// dropped, and the server rolls its transaction back).
    async fn control(
        &self,
        user: &mut VirtualUser,
        database: usize,
        command: &str,
        timeout: Duration,
    ) -> Result<(), ErrorKind> {
        let attempt = async {
            let mut held = self.sql_connection(user, database).await?;
            let result = held.connection.control(command).await;
            keep(user, held, &result);
            result
        };
        tokio::time::timeout(timeout, attempt)
            .await
            .unwrap_or(Err(ErrorKind::Timeout))
    }

    /// Ends a failed transaction; a connection that cannot, or not within the timeout, is
    /// dropped, which ends it too.
    async fn rollback(&self, user: &mut VirtualUser, database: usize, timeout: Duration) {
        if let Some(mut held) = user.sql.take(database) {
            let rolled_back = tokio::time::timeout(timeout, held.connection.control("ROLLBACK"));
            if matches!(rolled_back.await, Ok(Ok(()))) {
                user.sql.put(held);
            }
        }
    }

    /// Row count, values and latency against the step's checks, then its captures.
    fn judge(
        &self,
        user: &mut VirtualUser,
        step: &CompiledSql,
        answer: &SqlAnswer,
        latency: Duration,
    ) -> Judged {
        let checks = &step.checks;
        let feeders = &self.shape.feeders;
        let mut ok = checks.rows.is_none_or(|(low, high)| {
            answer.count >= low && high.is_none_or(|h| answer.count <= h)
        });
        ok &= checks.max_latency.is_none_or(|max| latency <= max);
        for (row, column, expected) in &checks.values {
            let want = expected.render_string(&mut user.data.scope(feeders));
            ok &= matches!(cell_text(answer, *row, column), Ok(Some(v)) if v == want);
        }
        let mut capture_failed = false;
        for capture in &step.captures {
            let CaptureSource::Row { row, column } = &capture.source else {
                continue;
            };
            match cell_text(answer, *row, column) {
                Ok(Some(value)) => user.data.set_var(capture.var, value),
                _ => capture_failed = true,
            }
        }
        Judged {
            error: (!ok || capture_failed).then_some(ErrorKind::Check),
            capture_failed,
        }
    }
}

/// Gives the connection back to its user, unless the database ended it: the error can arrive
/// before the client has seen the connection close, and a second statement on it would be
/// counted lost a second time.
fn keep<T>(user: &mut VirtualUser, held: HeldSql, result: &Result<T, ErrorKind>) {
    let lost = matches!(result, Err(ErrorKind::Sql(SqlError::ConnectionLost)));
    if !lost && !held.connection.is_closed() {
        user.sql.put(held);
    }
}

fn summary(error: Option<ErrorKind>) -> ResponseSummary {
    ResponseSummary {
        status: 0,
        bytes_received: 0,
        error,
    }
}
