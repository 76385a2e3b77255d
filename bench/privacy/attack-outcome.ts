/** What one scripted attack did: how many attempts, how many taught the attacker something, and how. */
export interface AttackOutcome {
  name: string;
  attempts: number;
  succeeded: number;
  /** One line per attempt that succeeded (what leaked), or a summary of why none did. */
  details: string[];
}

/** Collects attempts of one attack. */
export class AttackLog {
  readonly #outcome: AttackOutcome;

  constructor(name: string) {
    this.#outcome = { name, attempts: 0, succeeded: 0, details: [] };
  }

  /** One attempt; `leak` says what the attacker learned, or null when it learned nothing. */
  attempt(leak: string | null): void {
    this.#outcome.attempts += 1;
    if (leak !== null) {
      this.#outcome.succeeded += 1;
      this.#outcome.details.push(leak);
    }
  }

  note(line: string): void {
    this.#outcome.details.push(line);
  }

  get outcome(): AttackOutcome {
    return { ...this.#outcome, details: [...this.#outcome.details] };
  }
}
