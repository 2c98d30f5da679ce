const notes = [
  "Install dependencies in their own stage.",
  "Build with everything; ship only what runs.",
  "Run as a user that is not root.",
];

export default function Home() {
  return (
    <main>
      <h1>Notes</h1>
      <ul>
        {notes.map((note) => (
          <li key={note}>{note}</li>
        ))}
      </ul>
    </main>
  );
}
