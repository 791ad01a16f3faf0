//! The syntax tree of the Python subset.

use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    LShift,
    RShift,
    BitAnd,
    BitOr,
    BitXor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Is,
    IsNot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Pos,
    Invert,
    Not,
}

/// One piece of an f-string.
#[derive(Debug, Clone)]
pub enum FPart {
    Lit(String),
    /// Expression, conversion ('r' or 's'), format spec (may itself hold fields).
    Field(Expr, Option<char>, Vec<FPart>),
}

#[derive(Debug, Clone)]
pub enum Comp {
    For(Expr, Expr),
    If(Expr),
}

#[derive(Debug, Clone)]
pub enum Expr {
    Const(super::value::Obj),
    Name(Rc<str>),
    FStr(Vec<FPart>),
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Set(Vec<Expr>),
    Attr(Box<Expr>, Rc<str>),
    Index(Box<Expr>, Box<Expr>),
    Slice(Option<Box<Expr>>, Option<Box<Expr>>, Option<Box<Expr>>),
    /// Callee, positional args (Star for *args), keyword args.
    Call(Box<Expr>, Vec<Expr>, Vec<(Rc<str>, Expr)>),
    Star(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    Unary(UnaryOp, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// First operand, then (op, operand) pairs: `a < b < c`.
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>),
    IfElse(Box<Expr>, Box<Expr>, Box<Expr>),
    Lambda(Rc<FuncDef>),
    ListComp(Box<Expr>, Vec<Comp>),
    SetComp(Box<Expr>, Vec<Comp>),
    DictComp(Box<Expr>, Box<Expr>, Vec<Comp>),
    /// A generator expression is evaluated eagerly, as a list.
    GenExp(Box<Expr>, Vec<Comp>),
}

#[derive(Debug)]
pub struct FuncDef {
    pub name: Rc<str>,
    pub params: Vec<(Rc<str>, Option<Expr>)>,
    pub star: Option<Rc<str>>,
    pub kwstar: Option<Rc<str>>,
    pub body: Vec<Stmt>,
}

#[derive(Debug)]
pub struct ClassDef {
    pub name: Rc<str>,
    pub base: Option<Expr>,
    pub body: Vec<Stmt>,
}

#[derive(Debug)]
pub struct Handler {
    pub kinds: Option<Expr>,
    pub name: Option<Rc<str>>,
    pub body: Vec<Stmt>,
}

#[derive(Debug)]
pub enum StmtKind {
    Expr(Expr),
    Assign(Vec<Expr>, Expr),
    AugAssign(Expr, BinOp, Expr),
    If(Vec<(Expr, Vec<Stmt>)>, Vec<Stmt>),
    While(Expr, Vec<Stmt>, Vec<Stmt>),
    For(Expr, Expr, Vec<Stmt>, Vec<Stmt>),
    Def(Rc<FuncDef>),
    Class(Rc<ClassDef>),
    Return(Option<Expr>),
    Try(Vec<Stmt>, Vec<Handler>, Vec<Stmt>, Vec<Stmt>),
    Raise(Option<Expr>),
    Assert(Expr, Option<Expr>),
    Del(Vec<Expr>),
    Global(Vec<Rc<str>>),
    Import(Vec<Rc<str>>),
    Break,
    Continue,
    Pass,
}

#[derive(Debug)]
pub struct Stmt {
    pub line: u32,
    pub kind: StmtKind,
}
