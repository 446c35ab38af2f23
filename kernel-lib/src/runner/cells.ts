/** The parts of an nbformat 4 notebook the runner and the student-version generator read. */

export interface Cell {
  cell_type: string;
  id?: string;
  source: string | string[];
  metadata?: { tags?: string[] } & Record<string, unknown>;
  outputs?: unknown[];
  execution_count?: number | null;
}

/** A cell's source as one string (nbformat allows a list of lines). */
export const sourceText = (cell: Cell): string => (Array.isArray(cell.source) ? cell.source.join("") : cell.source);
