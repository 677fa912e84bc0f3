/** The in-memory mirror of one source (being written). */
export interface MirrorControl {
  /** The source's name. */
  readonly source: string;
}
