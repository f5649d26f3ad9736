/**
 * Ask PostgreSQL what a statement takes and returns, without running it: Parse + Describe on an
 * unnamed statement (the extended protocol's own introspection, as sqlc and pgtyped use it),
 * sent through node-pg's "submittable" interface so the client's own bookkeeping stays right.
 */
import type pg from 'pg';

/** One result column as the server describes it. */
export interface DescribedColumn {
  name: string;
  /** Type OID. */
  type: number;
  /** The table the column comes from directly (0 for an expression). */
  table: number;
  /** Its attribute number in that table (0 for an expression). */
  column: number;
}

/** What a statement takes (parameter type OIDs, in order) and returns (null: no rows, NoData). */
export interface Description {
  params: number[];
  columns: DescribedColumn[] | null;
}

interface WireField {
  name: string;
  dataTypeID: number;
  tableID: number;
  columnID: number;
}

/** Describe `text` on `client` (a dedicated client: nothing else may use it meanwhile). */
export function describeStatement(client: pg.ClientBase, text: string): Promise<Description> {
  return new Promise((resolve, reject) => {
    let params: number[] = [];
    let columns: DescribedColumn[] | null = null;
    let failure: unknown;
    const connection = (client as unknown as { connection: NodeJS.EventEmitter & Record<string, (arg?: unknown) => void> }).connection;
    const onParams = (message: { dataTypeIDs: number[] }): void => void (params = message.dataTypeIDs);
    connection.on('parameterDescription', onParams);
    const done = (): void => {
      connection.off('parameterDescription', onParams);
      if (failure) reject(failure);
      else resolve({ params, columns });
    };
    const submittable = {
      submit(con: Record<string, (arg?: unknown) => void>): void {
        con.parse!({ text, types: [] });
        con.describe!({ type: 'S', name: '' });
        con.sync!();
      },
      handleRowDescription(message: { fields: WireField[] }): void {
        columns = message.fields.map((f) => ({ name: f.name, type: f.dataTypeID, table: f.tableID, column: f.columnID }));
      },
      // node-pg detaches the statement on an error: the ReadyForQuery that follows is not ours.
      handleError(error: unknown): void {
        failure = error;
        done();
      },
      handleReadyForQuery: done,
      handleDataRow: () => undefined,
      handleCommandComplete: () => undefined,
      handleEmptyQuery: () => undefined,
      handlePortalSuspended: () => undefined,
      handleCopyInResponse: () => undefined,
      handleCopyData: () => undefined,
    };
    (client as unknown as { query(s: unknown): void }).query(submittable);
  });
}
